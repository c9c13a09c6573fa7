"""The response-limit options of ``jiradrift run`` and ``jiradrift snapshot``: defined once, read as one value.

    @with_response_limits
    def snapshot_command(site: str = ..., limits: ResponseLimits = LIMIT_OPTIONS) -> None: ...

What a site may cost us (:class:`jiradrift.jira.limits.ResponseLimits`): :func:`with_response_limits`
puts the eleven ``--max-*`` / ``--*-deadline`` options where the command has its ``limits`` parameter
and hands the command one validated :class:`ResponseLimits` (a bad combination is a usage error).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from jiradrift.jira.limits import DEFAULT_LIMITS, ResponseLimits

R = TypeVar("R")

MAX_RESPONSE_BYTES = typer.Option(
    DEFAULT_LIMITS.max_body_bytes, "--max-response-bytes", min=1024, help="Largest response body, after decompression."
)
MAX_DEPTH = typer.Option(DEFAULT_LIMITS.max_depth, "--max-depth", min=1, help="Deepest JSON nesting accepted.")
REQUEST_DEADLINE = typer.Option(
    DEFAULT_LIMITS.request_deadline,
    "--request-deadline",
    min=0.1,
    help="Wall-clock seconds for one request including its whole body.",
)
MAX_PAGES = typer.Option(DEFAULT_LIMITS.max_pages, "--max-pages", min=1, help="Most pages read from one listing.")
LISTING_DEADLINE = typer.Option(
    DEFAULT_LIMITS.listing_deadline,
    "--listing-deadline",
    min=0.1,
    help="Wall-clock seconds for one listing: all its pages with their retries.",
)
MAX_CAPTURE_PAGES = typer.Option(
    DEFAULT_LIMITS.max_capture_pages,
    "--max-capture-pages",
    min=1,
    help="Most pages of long listings (past the 20th page of each) one capture (one snapshot type) reads.",
)
MAX_CAPTURE_ITEMS = typer.Option(
    DEFAULT_LIMITS.max_capture_items, "--max-capture-items", min=1, help="Most items in one capture."
)
CAPTURE_DEADLINE = typer.Option(
    DEFAULT_LIMITS.capture_deadline,
    "--capture-deadline",
    min=0.1,
    help="Wall-clock seconds for one capture (one snapshot type); then it ends incomplete.",
)
MAX_INFLIGHT_BYTES = typer.Option(
    DEFAULT_LIMITS.max_inflight_bytes,
    "--max-inflight-bytes",
    min=2048,
    help=(
        "Memory budget of all Jira responses being read or parsed at once in this process, every tenant "
        "together (at least twice --max-response-bytes)."
    ),
)
MAX_PROCESS_ITEMS = typer.Option(
    DEFAULT_LIMITS.max_process_items,
    "--max-process-items",
    min=1,
    help=(
        "Most manifest items held by all captures of this process at once, every tenant together (at least "
        "--max-capture-items); a capture that finds them spent ends incomplete."
    ),
)
MAX_WAIT = typer.Option(
    DEFAULT_LIMITS.max_wait,
    "--max-wait",
    min=0,
    max=86400,
    help="Longest Retry-After or quota pause honoured, in seconds; a site asking for more fails the request.",
)


# The options in their order in --help, with the ResponseLimits field each one sets.
_OPTIONS: dict[str, tuple[type, Any, str]] = {
    "max_response_bytes": (int, MAX_RESPONSE_BYTES, "max_body_bytes"),
    "max_depth": (int, MAX_DEPTH, "max_depth"),
    "request_deadline": (float, REQUEST_DEADLINE, "request_deadline"),
    "max_pages": (int, MAX_PAGES, "max_pages"),
    "max_wait": (float, MAX_WAIT, "max_wait"),
    "listing_deadline": (float, LISTING_DEADLINE, "listing_deadline"),
    "max_capture_pages": (int, MAX_CAPTURE_PAGES, "max_capture_pages"),
    "max_capture_items": (int, MAX_CAPTURE_ITEMS, "max_capture_items"),
    "capture_deadline": (float, CAPTURE_DEADLINE, "capture_deadline"),
    "max_inflight_bytes": (int, MAX_INFLIGHT_BYTES, "max_inflight_bytes"),
    "max_process_items": (int, MAX_PROCESS_ITEMS, "max_process_items"),
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
