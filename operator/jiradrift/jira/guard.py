"""Read-only by construction: the transport under every Jira client refuses writes before sending.

Only GET leaves, plus POST to the few Jira endpoints that are reads sent as POST (jira-api.md,
"Reads that use POST"). The check runs in the transport, below every code path of the client, so
no caller (not even one reaching for the raw ``httpx.AsyncClient``) can send anything else.
"""

from __future__ import annotations

import re

import httpx

from jiradrift.jira.errors import ForeignHostRefused, WriteRefused

# Paths relative to /rest/api/{2,3}; ``[^/]+`` is one path segment (a field id).
READ_POSTS: tuple[str, ...] = (
    "workflows",
    "workflows/preview",
    "workflowscheme/read",
    r"field/[^/]+/context/mapping",
    "permissions/project",
    "permissions/check",
    "priorityscheme/mappings",
)
_READ_POST = re.compile(r"/rest/api/[23]/(?:" + "|".join(READ_POSTS) + r")/?$")


def is_allowed(method: str, path: str) -> bool:
    """True when ``method path`` is a read: any GET, or a POST to an allowlisted bulk-read endpoint."""
    method = method.upper()
    if method == "GET":
        return True
    if method != "POST":
        return False
    segments = path.split("/")
    if "%" in path or "." in segments or ".." in segments or path.count("/rest/api/") != 1:
        # Encoded characters or dot segments could make a server route elsewhere than we checked.
        return False
    return _READ_POST.search(path) is not None


def check_request(method: str, url: httpx.URL, allowed_origins: frozenset[str] | None = None) -> None:
    """Raise WriteRefused / ForeignHostRefused unless the request is a read to a configured origin."""
    if not is_allowed(method, url.raw_path.split(b"?", 1)[0].decode("ascii", "replace")):
        raise WriteRefused(method.upper(), str(url.copy_with(query=None)))
    if allowed_origins is not None:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        if origin not in allowed_origins:
            raise ForeignHostRefused(str(url.copy_with(query=None)), allowed_origins)


class ReadOnlyTransport(httpx.AsyncBaseTransport):
    """Wraps a real transport; a write never reaches it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, allowed_origins: frozenset[str] | None = None) -> None:
        self._inner = inner
        self._allowed = allowed_origins
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            check_request(request.method, request.url, self._allowed)
        except (WriteRefused, ForeignHostRefused):
            self.refused += 1
            raise
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
