"""One way to declare a limit: its name where it is set, its default, its bounds, its help and its error text.

    MAX_DEPTH = Limit("max_depth", 64, "Deepest JSON nesting accepted.", minimum=1,
                      flag="--max-depth", chart="operator.siteLimits.maxDepth")
    MAX_DEPTH.check(0)  # ValueError: --max-depth (chart value operator.siteLimits.maxDepth) must be at least 1, got 0

A limit is declared once and read by every place that sets it: the settings object that holds it
(:class:`jiradrift.jira.limits.ResponseLimits` validates its fields with :meth:`Limit.check`), the
command-line option (``jiradrift run`` / ``jiradrift snapshot``, built from :attr:`Limit.flag`,
:attr:`Limit.default` and :attr:`Limit.help` by :func:`jiradrift.cmd.limits.limit_option`), a
JiraTenant field (its ``pydantic.Field`` takes default, bounds and description, and so does the
CRD generated from it) and the Helm chart (its value at :attr:`Limit.chart`,
whose default and schema bounds a test keeps equal to these). An error names the flag, the chart
value or the CRD field the user sets, so the fix is where they look.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    """One bounded number. ``minimum`` / ``maximum`` are inclusive; ``None``: unbounded on that side.

    ``name`` is the settings field; ``flag``, ``chart`` and ``spec`` are where a user sets it (the
    command-line option, the Helm value, the CRD field path), empty where it cannot be set;
    ``old_flags`` are earlier spellings of ``flag`` that keep working."""

    name: str
    default: int | float
    help: str
    minimum: int | float | None = None
    maximum: int | float | None = None
    flag: str = ""
    chart: str = ""
    spec: str = ""
    old_flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.error(self.default) is not None:
            raise ValueError(f"the default of {self.name} breaks its own bounds: {self.error(self.default)}")

    @property
    def kind(self) -> type[int] | type[float]:
        """``int`` or ``float``: the type of the default."""
        return int if isinstance(self.default, int) else float

    def where(self) -> str:
        """How a user names this limit: the flag and the chart value, or the CRD field, or the field name."""
        places = [p for p in (self.flag, f"chart value {self.chart}" if self.chart else "") if p]
        if self.spec:
            places.append(self.spec)
        if not places:
            return self.name
        return places[0] + (f" ({'; '.join(places[1:])})" if len(places) > 1 else "")

    def bounds(self) -> str:
        """The admitted range in words: "at least 1", "between 0 and 86400"."""
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"between {low:g} and {high:g}"
        if low is not None:
            return f"at least {low:g}"
        if high is not None:
            return f"at most {high:g}"
        return "any number"

    def error(self, value: Any) -> str | None:
        """Why ``value`` is not admitted (the text of the error), or None."""
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
            return f"{self.where()} must be a number {self.bounds()}, got {value!r}"
        if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
            return f"{self.where()} must be {self.bounds()}, got {value!r}"
        return None

    def check(self, value: Any) -> Any:
        """``value`` when admitted; else ValueError with :meth:`error`'s text."""
        why = self.error(value)
        if why is not None:
            raise ValueError(why)
        return value

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the value (the Helm chart's ``values.schema.json`` holds the same)."""
        out: dict[str, Any] = {"type": "integer" if self.kind is int else "number"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out
