"""Drift notifications without I/O: the three formats, the content digest, the delivery state
machine and the webhook URL rules; plus the sender against a real receiver on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from tests.receiver import Receiver

from jiradrift.api.resources import (
    DeliveryState,
    JiraTenantSpec,
    NotificationDelivery,
    NotificationDestination,
    NotificationType,
)
from jiradrift.dev.controlplane import free_port
from jiradrift.kube.client import Kube
from jiradrift.net.hosts import HostAllowlist
from jiradrift.notify import delivery
from jiradrift.notify.destination import DestinationProblem, check_webhook_url
from jiradrift.notify.message import (
    MAX_LISTED,
    DriftNotice,
    generic_payload,
    slack_payload,
    teams_payload,
)
from jiradrift.notify.sender import SendLimits, new_client, post_json
from jiradrift.notify.worker import Notifier, NotifySettings
from jiradrift.redact import redact, remember_secrets

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "drift-notification.v1alpha1.schema.json").read_text())
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def snapshot(changes: list[dict[str, Any]] | None = None, total: int | None = None) -> dict[str, Any]:
    changes = (
        changes
        if changes is not None
        else [
            {
                "key": "workflow/10001",
                "name": "Software workflow",
                "op": "modified",
                "path": "description",
                "severity": "medium",
                "changedBy": "'Workflow updated' by 5b10ac8d82e05b22cc7d4ef5 at 2026-11-30T11:58:00.000+0000",
            },
            {"key": "permissionscheme/0", "op": "modified", "path": "permissions[2]", "severity": "high"},
        ]
    )
    return {
        "apiVersion": "jiradrift.io/v1alpha1",
        "kind": "Snapshot",
        "metadata": {"namespace": "team-a", "name": "acme-workflows-x1"},
        "spec": {"tenantRef": {"name": "acme"}, "type": "workflows"},
        "status": {
            "phase": "Completed",
            "completionTime": "2026-11-30T12:00:00Z",
            "digest": "sha256:" + "a" * 64,
            "drift": {
                "baseline": "acme-workflows-x0",
                "total": total if total is not None else len(changes),
                "added": 0,
                "removed": 0,
                "changed": 2,
                "highestSeverity": "high",
                "changes": changes,
            },
        },
    }


def notice(**kwargs: Any) -> DriftNotice:
    return DriftNotice.from_snapshot(snapshot(**kwargs), site="https://acme.atlassian.net")


def test_the_generic_payload_matches_its_published_schema_and_names_changes_and_attribution() -> None:
    payload = generic_payload(notice())
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(payload)
    assert payload["apiVersion"] == "jiradrift.io/v1alpha1" and payload["kind"] == "DriftNotification"
    assert payload["tenant"] == {"namespace": "team-a", "name": "acme", "site": "https://acme.atlassian.net"}
    first = payload["drift"]["changes"][0]
    assert first["key"] == "workflow/10001" and first["severity"] == "medium"
    assert first["changedBy"].startswith("'Workflow updated' by 5b10ac8d")
    assert payload["drift"]["highestSeverity"] == "high" and payload["drift"]["omitted"] == 0
    # the schema is not vacuous: a payload of another version is refused
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**payload, "apiVersion": "jiradrift.io/v2"}, SCHEMA)


def test_a_long_change_list_is_capped_and_says_how_many_more() -> None:
    many = [{"key": f"field/f{i}", "op": "added", "path": "", "severity": "low"} for i in range(25)]
    n = notice(changes=many, total=140)
    payload = generic_payload(n)
    jsonschema.validate(payload, SCHEMA)
    assert len(payload["drift"]["changes"]) == MAX_LISTED and payload["drift"]["omitted"] == 130
    slack = slack_payload(n)
    assert "and 130 more" in json.dumps(slack)
    teams = teams_payload(n)
    assert "and 130 more" in json.dumps(teams)


def test_slack_message_shape_and_untrusted_names_cannot_mention_or_link() -> None:
    hostile = [
        {
            "key": "field/x",
            "name": "<!channel> <https://evil.example|click>",
            "op": "added",
            "path": "",
            "severity": "high",
        }
    ]
    payload = slack_payload(notice(changes=hostile))
    assert payload["text"].startswith("Jira drift in team-a/acme")
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-1] == "context"
    assert payload["blocks"][0]["text"]["type"] == "plain_text" and len(payload["blocks"][0]["text"]["text"]) <= 150
    for block in payload["blocks"][1:]:
        for text in [block.get("text", {}).get("text", "")] + [e["text"] for e in block.get("elements", [])]:
            assert len(text) <= 3000
            assert "<!channel>" not in text and "<https://" not in text
    assert "&lt;!channel&gt;" in json.dumps(payload)


def test_teams_message_is_an_adaptive_card_with_the_facts_and_changes() -> None:
    payload = teams_payload(notice())
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Tenant"] == "team\\-a/acme" and "Baseline" in facts
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert card["body"][0]["color"] == "Attention"  # highest severity high
    assert any("workflow/10001" in t and "Workflow updated" in t for t in texts)


def test_the_digest_is_the_same_for_the_same_content_and_changes_with_it() -> None:
    assert notice().digest == notice().digest
    assert notice().digest.startswith("sha256:") and len(notice().digest) == 71
    other = snapshot()
    other["status"]["drift"]["changes"][0]["severity"] = "low"
    assert DriftNotice.from_snapshot(other, site="https://acme.atlassian.net").digest != notice().digest
    # the tenant's site is shown, not hashed: a tenant edited or deleted later changes no digest
    assert DriftNotice.from_snapshot(snapshot(), site="").digest == notice().digest


# --- the state machine ----------------------------------------------------------------------

POLICY = delivery.DeliveryPolicy(backoff_base_seconds=10, backoff_cap_seconds=60, max_attempts=4, claim_seconds=120)
DIGEST = "sha256:" + "b" * 64


def destination(name: str, kind: str = "slack", min_severity: str = "low") -> NotificationDestination:
    return NotificationDestination.model_validate(
        {"name": name, "type": kind, "urlSecretRef": {"name": "hooks"}, "minSeverity": min_severity}
    )


def test_pending_records_follow_the_destinations_and_their_minimum_severity() -> None:
    dests = [destination("all"), destination("loud", "teams", "high"), destination("mid", "webhook", "medium")]
    assert [r.destination for r in delivery.pending_deliveries(dests, "medium")] == ["all", "mid"]
    assert [r.destination for r in delivery.pending_deliveries(dests, "high")] == ["all", "loud", "mid"]
    assert delivery.pending_deliveries(dests, None) == []
    assert all(r.state is DeliveryState.PENDING and r.attempts == 0 for r in delivery.pending_deliveries(dests, "low"))


def test_backoff_doubles_up_to_the_cap_and_gives_up_after_max_attempts() -> None:
    record = NotificationDelivery(destination="d", type=NotificationType.SLACK)
    now = T0
    waits = []
    while True:
        assert delivery.is_due(record, now, DIGEST, POLICY)
        record = delivery.claim(record, now, "op-1", DIGEST)
        assert record.state is DeliveryState.SENDING and not delivery.is_due(record, now, DIGEST, POLICY)
        record = delivery.failed(record, now, "503", permanent=False, policy=POLICY)
        if record.state is DeliveryState.FAILED:
            break
        assert record.next_attempt_time is not None
        waits.append((record.next_attempt_time - now).total_seconds())
        assert not delivery.is_due(record, now, DIGEST, POLICY)
        now = record.next_attempt_time
    assert waits == [10, 20, 40]
    assert record.attempts == 4 and "gave up after 4 attempts" in (record.last_error or "")
    assert not delivery.is_due(record, now + timedelta(days=1), DIGEST, POLICY)
    assert POLICY.backoff(10) == 60


def test_a_delivered_record_is_never_due_again_for_the_same_digest() -> None:
    record = delivery.claim(NotificationDelivery(destination="d", type=NotificationType.WEBHOOK), T0, "op", DIGEST)
    record = delivery.delivered(record, T0)
    assert record.state is DeliveryState.DELIVERED and record.delivered_at == T0 and record.digest == DIGEST
    assert not delivery.is_due(record, T0 + timedelta(days=30), DIGEST, POLICY)
    assert delivery.is_due(record, T0, "sha256:" + "c" * 64, POLICY)  # other content is another message
    assert delivery.is_settled([record])


def test_a_claim_of_a_dead_operator_expires_and_a_permanent_error_fails_at_once() -> None:
    record = delivery.claim(NotificationDelivery(destination="d", type=NotificationType.TEAMS), T0, "dead", DIGEST)
    assert not delivery.is_due(record, T0 + timedelta(seconds=119), DIGEST, POLICY)
    assert delivery.is_due(record, T0 + timedelta(seconds=120), DIGEST, POLICY)
    gone = delivery.failed(record, T0, "404 no_service", permanent=True, policy=POLICY)
    assert gone.state is DeliveryState.FAILED and gone.attempts == 1 and gone.next_attempt_time is None


def test_the_tenant_spec_bounds_destinations() -> None:
    base = {"site": "https://acme.atlassian.net", "auth": {"pat": {"secretRef": {"name": "s"}}}}
    spec = JiraTenantSpec.model_validate(
        {**base, "notifications": [{"name": "ops", "type": "teams", "urlSecretRef": {"name": "hooks", "key": "teams"}}]}
    )
    assert spec.notifications[0].url_secret_ref.key == "teams"
    for bad in (
        [{"name": "Ops!", "type": "slack", "urlSecretRef": {"name": "h"}}],
        [{"name": "ops", "type": "email", "urlSecretRef": {"name": "h"}}],
        [{"name": f"d{i}", "type": "slack", "urlSecretRef": {"name": "h"}} for i in range(9)],
        [{"name": "ops", "type": "slack", "url": "https://hooks.slack.com/x", "urlSecretRef": {"name": "h"}}],
    ):
        with pytest.raises(ValueError):
            JiraTenantSpec.model_validate({**base, "notifications": bad})


# --- where notifications may go -----------------------------------------------------------

HOSTS = HostAllowlist.parse("hooks.slack.com,*.webhook.office.com,127.0.0.1")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0/B0/XXXX",
        "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y",
        "https://hooks.slack.com/services/T0/B0/XXXX?x=1",
        "http://127.0.0.1:8080/hook",
    ],
)
def test_webhook_urls_that_may_be_used(url: str) -> None:
    check_webhook_url(url, HOSTS, "Secret ns/s key url")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.slack.com/services/T0/B0/XXXX", "InsecureURL"),
        ("https://evil.example.com/hook", "HostNotAllowed"),
        ("https://169.254.169.254/latest/meta-data", "HostNotAllowed"),
        ("https://10.0.0.7/hook", "HostNotAllowed"),
        ("https://kubernetes.default.svc/api", "HostNotAllowed"),
        ("https://user:pw@hooks.slack.com/services/x", "NonCanonicalURL"),
        ("https://hooks.slack.com/services/x#frag", "NonCanonicalURL"),
        ("ftp://hooks.slack.com/x", "InvalidURL"),
        ("https://hooks.slack.com/x y", "InvalidURL"),
        ("http://127.0.0.2:8080/hook", "HostNotAllowed"),
    ],
)
def test_webhook_urls_that_are_refused_name_the_reason_but_not_the_path(url: str, reason: str) -> None:
    with pytest.raises(DestinationProblem) as caught:
        check_webhook_url(url, HOSTS, "Secret ns/s key url")
    assert caught.value.reason == reason
    assert "Secret ns/s key url" in caught.value.message
    assert "XXXX" not in caught.value.message and "meta-data" not in caught.value.message


# --- the sender against a real receiver -------------------------------------------------------


async def test_the_sender_posts_json_and_classifies_answers() -> None:
    with Receiver() as rx:
        async with new_client() as client:
            ok = await post_json(client, rx.url, {"a": 1}, headers={"X-Test": "1"})
            assert ok.ok and ok.status == 200
            assert rx.requests[0].json() == {"a": 1} and rx.requests[0].headers["Content-Type"] == "application/json"
            rx.answer(503, b"busy")
            busy = await post_json(client, rx.url, {"a": 2})
            assert not busy.ok and busy.retryable and busy.status == 503 and "busy" in busy.error
            rx.answer(404, b"no_service")
            gone = await post_json(client, rx.url, {"a": 3})
            assert not gone.ok and not gone.retryable and "no_service" in gone.error


async def test_the_sender_follows_no_redirect_reads_a_bounded_answer_and_keeps_a_deadline() -> None:
    with Receiver() as target, Receiver() as rx:
        async with new_client() as client:
            rx.answer(307, headers={"Location": target.url})
            moved = await post_json(client, rx.url, {"a": 1})
            assert not moved.ok and not moved.retryable and "redirects are not followed" in moved.error
            assert target.attempts == 0
            rx.answer(500, b"x" * 5_000_000)
            big = await post_json(client, rx.url, {"a": 1}, limits=SendLimits(max_response_bytes=1024))
            assert big.retryable and len(big.error) < 400
            rx.answer(200)
            rx.hold()
            slow = await post_json(client, rx.url, {"a": 1}, limits=SendLimits(timeout_seconds=0.5))
            rx.release()
            assert not slow.ok and slow.retryable and "did not answer within 0.5 s" in slow.error


async def test_the_url_never_appears_in_an_error() -> None:
    with Receiver(path="/hook/very-secret-path-987654321") as rx:
        remember_secrets([rx.url])
        async with new_client() as client:
            rx.answer(502, rx.url.encode())  # a receiver quoting the URL back
            echoed = await post_json(client, rx.url, {})
        closed = rx.url
    async with new_client() as client:
        refused = await post_json(client, closed, {})  # the port is closed now: a connection error
    for result in (echoed, refused):
        assert not result.ok and result.retryable
        assert "very-secret-path" not in result.error, result.error
    assert "very-secret-path" not in redact(f"posting to {closed} failed")


async def test_an_api_server_away_costs_a_warning_line_per_round_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Under load a LIST times out now and then; the round says so in one line and runs again."""
    kubeconfig = tmp_path / "kubeconfig"
    server = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    async with await Kube.connect(kubeconfig) as kube:
        notifier = Notifier(kube, NotifySettings(poll_seconds=0.05), "me", ["team-a"], lambda: datetime.now(UTC))
        with caplog.at_level(logging.WARNING, logger="jiradrift.notify"):
            task = asyncio.create_task(notifier.run())
            for _ in range(200):  # bounded: two failed rounds come within a few seconds
                if sum("notification round failed" in r.getMessage() for r in caplog.records) >= 2:
                    break
                await asyncio.sleep(0.05)
            notifier.stop()
            await asyncio.wait_for(task, 10)
    failed = [r for r in caplog.records if "notification round failed" in r.getMessage()]
    assert len(failed) >= 2, "the next round ran after the failure"
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in failed), failed
    assert all(server.removeprefix("http://") in r.getMessage() or "Unavailable" in r.getMessage() for r in failed)
