"""Which condition transitions deserve an Event, de-duplicated per tenant (pure: no I/O).

A Warning when a specific condition goes False, a Normal ``Ready`` when the tenant becomes Ready.
What was posted is remembered per tenant, because a timer may run on a body that does not show
the last status patch yet; a restart re-posts at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jiradrift.api import conditions as cond
from jiradrift.api.conditions import ConditionType, Reason
from jiradrift.handlers.state import Posted


@dataclass(frozen=True)
class TransitionEvent:
    type: str  # Normal | Warning
    reason: str
    message: str


def transition_events(
    posted: dict[str, Posted], before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> list[TransitionEvent]:
    """The Events for the change ``before`` -> ``after``; updates ``posted`` in place."""
    out: list[TransitionEvent] = []
    for new in after:
        key: Posted = (new["status"], new.get("reason"))
        old = cond.find(before, new["type"])
        seen = posted.get(new["type"]) or ((old["status"], old.get("reason")) if old else None)
        posted[new["type"]] = key
        if seen == key:
            continue
        if new["type"] != ConditionType.READY and new["status"] == "False":
            out.append(TransitionEvent("Warning", new["reason"], f"{new['type']}: {new['message']}"))
        elif new["type"] == ConditionType.READY and new["status"] == "True" and seen is not None:
            out.append(TransitionEvent("Normal", Reason.READY, new["message"]))
    return out
