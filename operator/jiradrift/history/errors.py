"""Why a history push failed, as a stable reason and a message that says what to fix."""

from __future__ import annotations

import re
from enum import StrEnum

from jiradrift.redact import clip


class HistoryReason(StrEnum):
    HOST_KEY_MISMATCH = "HostKeyMismatch"
    HOST_KEY_UNKNOWN = "HostKeyUnknown"
    PERMISSION_DENIED = "PermissionDenied"
    BRANCH_PROTECTED = "BranchProtected"
    NOT_OURS = "BranchNotOurs"
    UNREACHABLE = "Unreachable"
    TLS = "TLSVerifyFailed"
    REPOSITORY_NOT_FOUND = "RepositoryNotFound"
    INVALID_SPEC = "InvalidSpec"
    RACE = "BranchMoved"
    GIT_FAILED = "GitFailed"


class HistoryError(Exception):
    """A failed history operation: ``reason`` for status and metrics, the message names the fix."""

    def __init__(self, reason: HistoryReason, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.stderr = stderr  # git's whole stderr, for deciding; the message carries its tail

    @property
    def retryable(self) -> bool:
        return self.reason in (HistoryReason.UNREACHABLE, HistoryReason.RACE, HistoryReason.GIT_FAILED)


# (pattern in git's / ssh's stderr, reason, what to fix); first match wins
_RULES: tuple[tuple[re.Pattern[str], HistoryReason, str], ...] = tuple(
    (re.compile(p, re.I), r, fix)
    for p, r, fix in (
        (
            r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed",
            HistoryReason.HOST_KEY_MISMATCH,
            "the server's SSH host key is not the one pinned in the Secret's known_hosts: if the server's key "
            "really changed, put its new key (ssh-keyscan, checked out of band) in known_hosts",
        ),
        (
            r"No \S+ host key is known|Host key verification failed",
            HistoryReason.HOST_KEY_UNKNOWN,
            "the Secret's known_hosts has no key for this host (keys are pinned, never trusted on first "
            "use): add the server's host key line to known_hosts",
        ),
        (
            r"pre-receive hook declined|protected branch|\[remote rejected\]",
            HistoryReason.BRANCH_PROTECTED,
            "the server refused the push to the branch (a protection rule or hook): allow the deploy key or "
            "token to push to it, or choose another spec.history.branch",
        ),
        (
            r"Permission denied|Authentication failed|returned error: 40[13]|could not read Username|"
            r"access denied|not authorized",
            HistoryReason.PERMISSION_DENIED,
            "the server refused the credentials: check the Secret's key or token, and that it may write to "
            "the repository",
        ),
        (
            r"returned error: 404|repository .* not found|does not appear to be a git repository",
            HistoryReason.REPOSITORY_NOT_FOUND,
            "no repository at spec.history.repository: create it or fix the URL",
        ),
        (
            r"SSL certificate problem|server certificate verification failed|certificate verify failed",
            HistoryReason.TLS,
            "the server's TLS certificate is not trusted: put its CA in the Secret's ca.crt",
        ),
        (
            r"Connection refused|Could not resolve|timed out|Failed to connect|Network is unreachable|"
            r"Connection reset|Connection closed|early EOF|Couldn't connect",
            HistoryReason.UNREACHABLE,
            "the repository could not be reached; commits wait and are pushed in order once it answers",
        ),
    )
)


def classify(stderr: str, what: str) -> HistoryError:
    """The failure of ``what`` (``git push to ...``) from git's stderr."""
    for pattern, reason, fix in _RULES:
        if pattern.search(stderr):
            return HistoryError(reason, f"{what} failed: {fix} (git: {_tail(stderr)})", stderr)
    return HistoryError(HistoryReason.GIT_FAILED, f"{what} failed: {_tail(stderr)}", stderr)


def _tail(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return clip(" | ".join(lines[-3:]), 400)
