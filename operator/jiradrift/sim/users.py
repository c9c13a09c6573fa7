"""The site's people: who the audit log names, and what ``GET /user`` and ``GET /user/bulk`` say about them.

Jira Cloud hides a user's e-mail address unless the user's privacy settings show it (the field is
then absent), and answers ``404`` for an account id it does not know (a deleted account, a typo).
``/user/bulk`` leaves unknown ids out of its page. The emulator's directory has one user of each
kind, so a client meets all three: :data:`ADMIN` (e-mail hidden; the audit log's default author),
:data:`BOB` (e-mail shown) and :data:`GONE` (not in the directory: deleted).
"""

from __future__ import annotations

from dataclasses import dataclass

Json = dict[str, object]

ADMIN_ACCOUNT_ID = "5b10a2844c20165700ede21g"


@dataclass(frozen=True)
class DirectoryUser:
    account_id: str
    display_name: str
    email: str | None = None  # None: hidden by the user's privacy settings

    def body(self, base_url: str) -> Json:
        """The ``User`` bean, as Jira shapes it for another user (no e-mail when it is hidden)."""
        out: Json = {
            "self": f"{base_url}/rest/api/3/user?accountId={self.account_id}",
            "accountId": self.account_id,
            "accountType": "atlassian",
            "displayName": self.display_name,
            "active": True,
            "timeZone": "Etc/UTC",
            "avatarUrls": {
                size: f"https://avatar-management--avatars.example.test/initials/{self.display_name[:1]}.png?s={n}"
                for size, n in (("16x16", 16), ("24x24", 24), ("32x32", 32), ("48x48", 48))
            },
        }
        if self.email is not None:
            out["emailAddress"] = self.email
        return out


ADMIN = DirectoryUser(ADMIN_ACCOUNT_ID, "Alice Admin")
BOB = DirectoryUser("712020:5e2a3f0c-1b2c-4d5e-8f90-00000000b0b0", "Bob Builder", "bob@example.com")
GONE_ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ef5"  # a deleted account: the audit log still names it


def default_directory() -> dict[str, DirectoryUser]:
    return {u.account_id: u for u in (ADMIN, BOB)}
