"""The response-limit options of ``jiradrift run`` and ``jiradrift snapshot``: defined once, read as one value.

    @with_response_limits
    def snapshot_command(site: str = ..., limits: ResponseLimits = LIMIT_OPTIONS) -> None: ...

What a site may cost us (:class:`jiradrift.jira.limits.ResponseLimits`): :func:`with_response_limits`
puts the eleven ``--max-*`` / ``--*-deadline`` options where the command has its ``limits`` parameter
and hands the command one validated :class:`ResponseLimits` (a value out of bounds or a bad
combination is a usage error). Each option is declared once, as a :class:`~jiradrift.limit.Limit` in
:data:`jiradrift.jira.limits.SITE_LIMITS`: flag, default, bounds, help and error text.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from jiradrift.jira.limits import DEFAULT_LIMITS, SITE_LIMITS, ResponseLimits
from jiradrift.limit import Limit

R = TypeVar("R")


def limit_option(limit: Limit) -> Any:
    """The command-line option of ``limit``: its flag (and earlier spellings), default, help and bounds,
    a value out of bounds refused with the limit's own error text."""

    def checked(value: Any) -> Any:
        why = limit.error(value)
        if why is not None:
            raise typer.BadParameter(why)
        return value

    return typer.Option(
        limit.default, limit.flag, *limit.old_flags, callback=checked, help=f"{limit.help} [{limit.bounds()}]"
    )


# The options in their order in --help (the parameter name, its type and option), with the
# ResponseLimits field each one sets: all read from SITE_LIMITS.
_OPTIONS: dict[str, tuple[type, Any, str]] = {
    limit.flag.lstrip("-").replace("-", "_"): (limit.kind, limit_option(limit), limit.name) for limit in SITE_LIMITS
}

LIMIT_OPTIONS: Any = DEFAULT_LIMITS
"""The default of a command's ``limits`` parameter; :func:`with_response_limits` replaces it by the options."""


def response_limits(**values: Any) -> ResponseLimits:
    """The :class:`ResponseLimits` of the options' values (keyword per option); a bad one is a usage error."""
    try:
        return ResponseLimits(**{_OPTIONS[name][2]: value for name, value in values.items()})
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def with_response_limits(command: Callable[..., R]) -> Callable[..., R]:
    """``command`` with its ``limits: ResponseLimits`` parameter offered on the command line as the options."""
    signature = inspect.signature(command, eval_str=True)
    params: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        if param.name != "limits":
            params.append(param)
            continue
        params += [
            inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=option, annotation=kind)
            for name, (kind, option, _) in _OPTIONS.items()
        ]
    if len(params) != len(signature.parameters) + len(_OPTIONS) - 1:
        raise TypeError(f"{command.__qualname__} has no `limits: ResponseLimits` parameter to offer as options")

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        values = {name: kwargs.pop(name) for name in _OPTIONS}
        return command(*args, limits=response_limits(**values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params} | {"return": signature.return_annotation}
    return wrapper
