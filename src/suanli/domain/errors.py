"""The domain's error hierarchy. Adapters map each class to a user-facing status (HTTP, exit code)."""

from __future__ import annotations


class SuanliError(Exception):
    """Base of every error Suanli raises on purpose. ``message`` tells a person what to fix."""

    title = "Error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(SuanliError):
    title = "Not found"


class Conflict(SuanliError):
    title = "Conflict"


class InvalidSpec(SuanliError):
    title = "Invalid specification"


class IllegalTransition(Conflict):
    title = "Illegal state transition"


class StaleVersion(Conflict):
    """Someone else changed the row between our read and our write (optimistic concurrency)."""

    title = "Concurrent update"


class QuotaExceeded(SuanliError):
    title = "Quota exceeded"


class Forbidden(SuanliError):
    title = "Forbidden"
