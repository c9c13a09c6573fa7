"""Expected differences between two sites declared as value mappings (LEFT value -> RIGHT value).

    ValueMappings.parse(["url:https://acme.atlassian.net=https://acme-sandbox.atlassian.net",
                         "email-domain:acme.com=sandbox.acme.com",
                         "group:jira-administrators=sandbox-administrators",
                         "account:5b10a284...=6c21b395..."])

They rewrite the left side's resolved bodies into the right side's vocabulary before comparing:
``group`` and ``account`` replace a whole string value (and a dict key) equal to LEFT; ``url``
replaces a string starting with LEFT; ``email-domain`` replaces ``@LEFT`` at the end of a string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

KINDS = ("url", "email-domain", "group", "account")


class InvalidMapping(ValueError):
    """A mapping is not KIND:LEFT=RIGHT."""


@dataclass
class ValueMappings:
    exact: dict[str, str] = field(default_factory=dict)
    prefixes: list[tuple[str, str]] = field(default_factory=list)
    domains: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, texts: list[str]) -> ValueMappings:
        out = cls()
        for text in texts:
            kind, sep, rest = text.partition(":")
            left, eq, right = rest.partition("=")
            if not sep or not eq or kind not in KINDS or not left:
                raise InvalidMapping(
                    f"value mapping {text!r} is not KIND:LEFT=RIGHT with KIND one of {', '.join(KINDS)} "
                    f"(e.g. 'group:jira-administrators=sandbox-administrators')"
                )
            if kind == "url":
                out.prefixes.append((left.rstrip("/"), right.rstrip("/")))
            elif kind == "email-domain":
                out.domains.append(("@" + left.lstrip("@"), "@" + right.lstrip("@")))
            else:
                out.exact[left] = right
        return out

    def __bool__(self) -> bool:
        return bool(self.exact or self.prefixes or self.domains)

    def needles(self) -> tuple[bytes, ...]:
        """Byte strings at least one of which is in the JSON of any value a mapping changes."""
        exact = (orjson.dumps(k) for k in self.exact)  # '"value"': a whole string or a key
        prefixes = (orjson.dumps(left)[:-1] for left, _ in self.prefixes)  # '"https://...' (no closing quote)
        domains = (orjson.dumps(left)[1:] for left, _ in self.domains)  # '@domain"' (no opening quote)
        return (*exact, *prefixes, *domains)

    def touches(self, data: bytes, needles: tuple[bytes, ...] | None = None) -> bool:
        """Whether a mapping may change the value serialised as ``data`` (no false negative: a value
        it says no to is returned unchanged by :meth:`apply`)."""
        return any(n in data for n in (needles if needles is not None else self.needles()))

    def apply(self, value: Any) -> Any:
        """``value`` with every mapping applied (a new object; unchanged parts are shared)."""
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, dict):
            return {self._string(k): self.apply(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.apply(v) for v in value]
        return value

    def _string(self, text: str) -> str:
        found = self.exact.get(text)
        if found is not None:
            return found
        for left, right in self.prefixes:
            if text == left or text.startswith(left + "/"):
                return right + text[len(left) :]
        for left, right in self.domains:
            if text.endswith(left):
                return text[: -len(left)] + right
        return text
