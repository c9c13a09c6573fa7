"""Errors the emulator answers with, in Jira's body shape."""

from __future__ import annotations

from typing import Any


class JiraError(Exception):
    """Raised by handlers; rendered as ``{"errorMessages": [...], "errors": {}, "status": N}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "errorMessages": [self.message] if self.message else [],
            "errors": self.errors,
            "status": self.status,
        }


class OAuthError(Exception):
    """Rendered as the auth server's ``{"error": ..., "error_description": ...}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}
