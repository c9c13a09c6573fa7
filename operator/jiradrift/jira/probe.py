"""The first request of a run: can this site be read at all?

A capture sends hundreds of requests. When the site cannot be reached (connection refused, unknown
host) or refuses the credentials, each of them fails the same way after its own retries: two
minutes, a thousand connect attempts, the same 401 twenty-eight times. One quick read first ends
such a run in seconds with one error that names the cause.

    async with await JiraClient.connect(site, credentials, settings=probe_settings(settings)) as probe:
        await probe_site(probe)   # raises JiraUnreachable, JiraTimeout, AuthenticationFailed, ...
"""

from __future__ import annotations

import dataclasses

from jiradrift.jira.client import ClientSettings, JiraClient
from jiradrift.jira.ratelimit import RetryPolicy

PROBE_TIMEOUT = 10.0
# One short retry: a blip is forgiven, a dead site costs seconds, not minutes of backoff.
PROBE_RETRY = RetryPolicy(max_retries=1, initial_delay=1.0, max_delay=2.0)
PROBE_PATH = "/myself"  # any valid credentials may read it; bad ones get 401 here as everywhere


def probe_settings(settings: ClientSettings) -> ClientSettings:
    """``settings`` for a health check: a short timeout and one short retry."""
    return dataclasses.replace(settings, timeout=min(settings.timeout, PROBE_TIMEOUT), retry=PROBE_RETRY)


async def probe_site(client: JiraClient) -> None:
    """Read the probe endpoint once; raise the :class:`JiraError` that says why the site cannot be read."""
    await client.get_json(PROBE_PATH)
