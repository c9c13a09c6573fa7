"""What a tenant's spec.history.repository may name, before any git command runs (no server needed)."""

from __future__ import annotations

import pytest

from jiradrift.history.errors import HistoryError, HistoryReason
from jiradrift.history.gitcli import Credentials, Remote, check_remote, remote_host
from jiradrift.net.hosts import HostAllowlist

SSH = Credentials(ssh_key="KEY", known_hosts="github.com ssh-ed25519 AAAA")
ALLOWED = HostAllowlist.parse("github.com,*.gitlab.example")


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("git@github.com:acme/config.git", "github.com"),
        ("ssh://git@github.com/acme/config.git", "github.com"),
        ("https://git.gitlab.example/acme/config.git", "git.gitlab.example"),
    ],
)
def test_hosts_of_the_urls_people_use(url: str, host: str) -> None:
    assert remote_host(url) == host


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",  # git's ext transport runs a command
        "file:///etc",
        "/var/lib/repo.git",  # a path on the operator's file system
        "http://github.com/acme/config.git",  # plain http
        "ssh://git@gitlab.internal/acme.git",  # not on the allowlist (and cluster-internal)
        "https://evil.example/acme.git",
    ],
)
def test_other_transports_and_hosts_are_refused_before_git_runs(url: str) -> None:
    with pytest.raises(HistoryError) as refused:
        check_remote(Remote(url, "main", SSH), ALLOWED)
    assert refused.value.reason is HistoryReason.INVALID_SPEC


def test_credentials_must_fit_the_protocol_and_the_branch_be_a_branch() -> None:
    with pytest.raises(HistoryError, match="known_hosts"):
        check_remote(Remote("git@github.com:acme/c.git", "main", Credentials(ssh_key="KEY")), ALLOWED)
    with pytest.raises(HistoryError, match="token"):
        check_remote(Remote("https://github.com/acme/c.git", "main", SSH), ALLOWED)
    with pytest.raises(HistoryError, match="branch"):
        check_remote(Remote("git@github.com:acme/c.git", "../../HEAD", SSH), ALLOWED)
    check_remote(Remote("git@github.com:acme/c.git", "jira/history", SSH), ALLOWED)
