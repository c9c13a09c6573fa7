"""Who an account id is: the person's display name (and e-mail, when Jira shows it), read once per site.

    directory = UserDirectory()                                  # one per process: the runtime owns it
    users = await directory.resolve(client, site, {"5b10a2844c20165700ede21g"}, timeout=60)
    users["5b10a2844c20165700ede21g"].label()                    # 'Alice Admin (5b10a2844c20165700ede21g)'

Jira's audit log names people by account id. ``GET /rest/api/3/user/bulk`` (repeated ``accountId``,
paged) says who they are: a read like any other, through the tenant's read-only client, counted and
bounded like every capture request. The answers are cached per site, for ``ttl_seconds`` and at most
``max_entries`` (least recently used out first), so a name is asked once, not once per window.

Best effort, always: a lookup that fails, times out or is forbidden gives the account id alone (and
is asked again next time); an account Jira does not know (deleted) is cached as the id alone. Nothing
here raises into a capture. A site is untrusted: names and addresses are cut and stripped of control
characters before they reach a status, an Event, a notification or a commit.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from jiradrift.jira.paging import JsonSource, batches, offset_pages, repeat
from jiradrift.redact import clip

log = logging.getLogger("jiradrift.jira.users")

BULK_BATCH = 50  # account ids per request: the URL stays short; the endpoint pages within a batch
MAX_ENTRIES = 10_000
TTL_SECONDS = 6 * 3600.0  # people rename themselves rarely; a renamed one shows the new name within hours
NAME_LIMIT = 128
EMAIL_LIMIT = 254
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class JiraUser:
    """A person as Jira names them; ``display_name`` empty when unknown, ``email`` empty when hidden."""

    account_id: str
    display_name: str = ""
    email: str = ""

    def label(self) -> str:
        """``Alice Admin (5b10a…)`` with the whole account id, or the account id alone when the name is unknown."""
        return f"{self.display_name} ({self.account_id})" if self.display_name else self.account_id


def _text(value: Any, limit: int) -> str:
    return clip(_CONTROL.sub(" ", value), limit).strip() if isinstance(value, str) else ""


def user_from(raw: Any) -> JiraUser | None:
    """A ``User`` bean as a :class:`JiraUser`; None when it has no account id."""
    if not isinstance(raw, dict) or not isinstance(raw.get("accountId"), str) or not raw["accountId"]:
        return None
    return JiraUser(
        raw["accountId"], _text(raw.get("displayName"), NAME_LIMIT), _text(raw.get("emailAddress"), EMAIL_LIMIT)
    )


async def read_users(client: JsonSource, account_ids: Iterable[str]) -> dict[str, JiraUser]:
    """The users Jira knows among ``account_ids`` (``GET /user/bulk``); unknown ones are absent."""
    wanted = sorted({a for a in account_ids if a})
    found: dict[str, JiraUser] = {}
    for batch in batches(wanted, BULK_BATCH):
        asked = set(batch)
        async for page in offset_pages(client, "/user/bulk", repeat("accountId", batch), page_size=BULK_BATCH):
            for raw in page:
                user = user_from(raw)
                if user is not None and user.account_id in asked:  # never a user we did not ask about
                    found[user.account_id] = user
    return found


class UserDirectory:
    """Account id -> :class:`JiraUser`, per site, bounded and expiring (see the module docstring)."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        ttl_seconds: float = TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or ttl_seconds <= 0:
            raise ValueError("a user directory holds at least one entry for a positive time")
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, JiraUser]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, site: str, account_id: str) -> JiraUser | None:
        key = (site, account_id)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def _keep(self, site: str, user: JiraUser) -> None:
        key = (site, user.account_id)
        self._entries[key] = (self._clock() + self.ttl_seconds, user)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def resolve(
        self, client: JsonSource, site: str, account_ids: Iterable[str], *, timeout: float | None = None
    ) -> dict[str, JiraUser]:
        """Every non-empty id of ``account_ids`` as a :class:`JiraUser`; asks Jira only for those not cached."""
        out: dict[str, JiraUser] = {}
        missing: list[str] = []
        for account_id in sorted({a for a in account_ids if a}):
            hit = self.cached(site, account_id)
            if hit is None:
                missing.append(account_id)
            else:
                out[account_id] = hit
        if not missing:
            return out
        try:
            async with asyncio.timeout(timeout):
                found = await read_users(client, missing)
        except Exception as exc:  # a name is never worth a failed capture: show the ids, ask again next time
            log.info("%s: display names of %d account(s) not read: %s", site, len(missing), clip(repr(exc), 300))
            return out | {a: JiraUser(a) for a in missing}
        for account_id in missing:
            user = found.get(account_id) or JiraUser(account_id)  # not found: a deleted account, shown by id
            self._keep(site, user)
            out[account_id] = user
        return out
