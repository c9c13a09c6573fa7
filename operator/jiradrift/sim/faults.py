"""Switchable faults: the ways a real Jira misbehaves that a client must survive.

Each rule matches requests by method and an ``fnmatch`` pattern on the API path in its site form
(``/rest/api/3/field/*/context``), fires ``times`` times (``None`` = until cleared) and then retires.
Rules are checked in the order they were added; the first one that fires wins.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal, get_args

# What a broken or malicious site sends (answered by jiradrift.sim.hostile); each is also a switch.
HostileKind = Literal[
    "gzip_bomb",
    "oversized",
    "deep_json",
    "endless_pages",
    "huge_total",
    "looping_pages",
    "lying_total",
    "trickle",
    "no_headers",
]
HOSTILE_KINDS: tuple[HostileKind, ...] = get_args(HostileKind)
FaultKind = Literal[
    "rate_limit", "server_error", "timeout", "truncate", "latency", "changing_total", "fail", HostileKind
]

HTML_429 = (
    "<!DOCTYPE html><html><head><title>Oops - an error has occurred</title></head><body>"
    "<h1>Oops - an error has occurred</h1><p>Rate limit exceeded.</p></body></html>"
)


@dataclass
class FaultRule:
    kind: FaultKind
    path: str = "*"
    method: str = "*"
    times: int | None = 1
    status: int = 0
    retry_after: int | None = None
    reason: str = ""
    html: bool = False
    seconds: float = 0.0
    step: int = 0
    size: int = 0  # bytes of a hostile body
    depth: int = 0  # nesting of a hostile body
    total: int = 0  # the constant total a huge_total listing declares
    retry_after_text: str = ""  # a Retry-After sent verbatim ("inf", an HTTP date)
    fired: int = 0
    template: list[Any] | None = field(default=None, repr=False)  # the first page, for hostile paging

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatchcase(path, self.path)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times


@dataclass
class Faults:
    """The fault switchboard; thread-safe because tests flip it while the server thread serves."""

    rules: list[FaultRule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    # ------------------------------------------------------------- switches

    def latency(self, ms: float, *, path: str = "*", times: int | None = None) -> FaultRule:
        """Delay matching responses by ``ms`` (on top of the emulator-wide latency)."""
        return self.add(FaultRule("latency", path, seconds=ms / 1000.0, times=times))

    def rate_limit(
        self,
        *,
        times: int | None = 1,
        retry_after: int | None = 1,
        path: str = "*",
        reason: str = "jira-burst-based",
        html: bool = False,
        method: str = "*",
    ) -> FaultRule:
        """429 burst limit: ``Retry-After`` seconds and ``RateLimit-Reason``; ``html`` gives the
        "Oops" page instead of JSON."""
        return self.add(FaultRule("rate_limit", path, method, times, 429, retry_after, reason, html))

    def quota(self, *, times: int | None = 1, retry_after: int = 3600, path: str = "*") -> FaultRule:
        """429 from the hourly points quota (tenant-wide): a long ``Retry-After``."""
        return self.add(FaultRule("rate_limit", path, "*", times, 429, retry_after, "jira-quota-tenant-based"))

    def server_error(
        self,
        *,
        status: int = 503,
        times: int | None = 1,
        retry_after: int | None = None,
        path: str = "*",
        method: str = "*",
    ) -> FaultRule:
        """5xx, with ``Retry-After`` only when given (clients retry only those)."""
        return self.add(FaultRule("server_error", path, method, times, status, retry_after))

    def timeout(self, *, seconds: float = 30.0, times: int | None = 1, path: str = "*") -> FaultRule:
        """Hold the response for ``seconds`` (bounded at 120) so the client's timeout fires first."""
        return self.add(FaultRule("timeout", path, "*", times, seconds=min(seconds, 120.0)))

    def truncate(self, *, times: int | None = 1, path: str = "*") -> FaultRule:
        """A 200 whose JSON body is cut in half."""
        return self.add(FaultRule("truncate", path, "*", times, 200))

    def changing_total(self, *, step: int = 7, path: str = "*", times: int | None = None) -> FaultRule:
        """PageBean ``total`` grows by ``step`` on every page served (an admin editing mid-scan)."""
        return self.add(FaultRule("changing_total", path, "*", times, step=step))

    def fail_object(self, path: str, *, status: int = 500, times: int | None = None) -> FaultRule:
        """One object's read fails (e.g. ``/rest/api/3/field/customfield_10003/context``) while its
        siblings succeed."""
        return self.add(FaultRule("fail", path, "*", times, status))

    # ------------------------------------------------------------ hostile

    def retry_after(
        self, value: str = "inf", *, status: int = 429, times: int | None = None, path: str = "*"
    ) -> FaultRule:
        """429 (or a 5xx) whose ``Retry-After`` is ``value`` verbatim: ``inf``, ``nan``, ``-1``,
        ``99999999999`` or an HTTP date years ahead."""
        kind: FaultKind = "rate_limit" if status == 429 else "server_error"
        rule = FaultRule(kind, path, "*", times, status, None, "jira-burst-based", retry_after_text=value)
        return self.add(rule)

    def gzip_bomb(
        self, *, size: int = 100 * 1024 * 1024, seconds: float = 0.0, times: int | None = None, path: str = "*"
    ) -> FaultRule:
        """A ~1,000:1 gzip body inflating to ``size`` bytes of (valid) JSON; with ``seconds``, sent a
        KiB at a time with that pause between pieces (many answers in flight at once)."""
        return self.add(FaultRule("gzip_bomb", path, "*", times, 200, size=size, seconds=seconds))

    def oversized(self, *, size: int = 100 * 1024 * 1024, times: int | None = None, path: str = "*") -> FaultRule:
        """``size`` bytes of (valid) JSON, streamed uncompressed."""
        return self.add(FaultRule("oversized", path, "*", times, 200, size=size))

    def deep_json(self, *, depth: int = 1000, times: int | None = None, path: str = "*") -> FaultRule:
        """An item nested ``depth`` arrays deep."""
        return self.add(FaultRule("deep_json", path, "*", times, 200, depth=depth))

    def endless_pages(self, *, path: str = "*", times: int | None = None) -> FaultRule:
        """A PageBean whose isLast never becomes true, with fresh ids on every page."""
        return self.add(FaultRule("endless_pages", path, "*", times, 200))

    def huge_total(self, *, path: str = "*", times: int | None = None, total: int = 10**9) -> FaultRule:
        """A PageBean whose isLast never becomes true, with fresh ids on every page and a constant
        ``total`` (a billion: more than a capture may hold, so the client stops at the first page; at
        most ``max_capture_items``: only a page, item or time bound stops it)."""
        return self.add(FaultRule("huge_total", path, "*", times, 200, total=total))

    def looping_pages(self, *, path: str = "*", times: int | None = None) -> FaultRule:
        """Every page is the first page again (startAt ignored; nextPage points back at itself)."""
        return self.add(FaultRule("looping_pages", path, "*", times, 200))

    def lying_total(self, *, path: str = "*", times: int | None = None) -> FaultRule:
        """``total`` says one page while isLast stays false and fresh items keep coming."""
        return self.add(FaultRule("lying_total", path, "*", times, 200))

    def trickle(self, *, seconds: float = 1.0, path: str = "*", times: int | None = None) -> FaultRule:
        """The real body, one byte every ``seconds``."""
        return self.add(FaultRule("trickle", path, "*", times, 200, seconds=seconds))

    def no_headers(self, *, seconds: float = 3600.0, path: str = "*", times: int | None = None) -> FaultRule:
        """Accept the request and send nothing, not even the status line, until the client hangs up
        (or ``seconds`` pass, at most an hour)."""
        return self.add(FaultRule("no_headers", path, "*", times, 200, seconds=min(seconds, 3600.0)))

    # ---------------------------------------------------------- evaluation

    def pick(self, method: str, path: str, kinds: tuple[FaultKind, ...]) -> FaultRule | None:
        """The first live rule of one of ``kinds`` that matches; counts it as fired."""
        if not self.rules:
            return None
        with self._lock:
            for rule in self.rules:
                if rule.kind in kinds and not rule.exhausted and rule.matches(method, path):
                    rule.fired += 1
                    return rule
        return None

    def extra_latency(self, method: str, path: str) -> float:
        rule = self.pick(method, path, ("latency",))
        return rule.seconds if rule else 0.0


FaultSwitch = Callable[..., FaultRule]
