"""Drift notifications: Slack, Microsoft Teams and a generic JSON webhook (see docs/notifications.md).

- :mod:`.message`: pure formatting of a drifted Snapshot into each format, and its content digest;
- :mod:`.delivery`: the per-destination delivery state machine (sans I/O);
- :mod:`.destination`: the webhook URL from an opted-in Secret, checked against the host allowlist;
- :mod:`.sender`: one bounded HTTP POST;
- :mod:`.worker`: the background task that drives deliveries and records them in Snapshot status.
"""

from __future__ import annotations

from jiradrift.notify.delivery import DeliveryPolicy, pending_deliveries
from jiradrift.notify.destination import DEFAULT_NOTIFICATION_HOSTS, NOTIFICATION_HOSTS_ENV
from jiradrift.notify.message import DriftNotice, generic_payload, slack_payload, teams_payload
from jiradrift.notify.sender import SendLimits
from jiradrift.notify.worker import Notifier, NotifySettings, records_json

__all__ = [
    "DEFAULT_NOTIFICATION_HOSTS",
    "NOTIFICATION_HOSTS_ENV",
    "DeliveryPolicy",
    "DriftNotice",
    "Notifier",
    "NotifySettings",
    "SendLimits",
    "generic_payload",
    "pending_deliveries",
    "records_json",
    "slack_payload",
    "teams_payload",
]
