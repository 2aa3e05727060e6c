"""The domain's error hierarchy. Adapters map each class to a user-facing status (HTTP, exit code)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from pydantic import ValidationError


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


class TooManyAttempts(SuanliError):
    """Too many failed sign-ins for one name or from one address: wait ``retry_after_s`` seconds."""

    title = "Too many attempts"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unauthenticated(SuanliError):
    """No token, or one that is malformed, unknown, expired or revoked, or whose principal is
    disabled. The message says which, and what to do."""

    title = "Unauthenticated"


def field_path(loc: Iterable[int | str]) -> str:
    """``("resources", "accelerators", 0)`` -> ``resources.accelerators[0]``: the notation every
    error that names a field uses (API, CLI, files)."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


E = TypeVar("E", bound=InvalidSpec)


def invalid(error: ValidationError, source: str, kind: type[E]) -> E:
    """One ``kind`` error for all of pydantic's: ``source: a.b: message; c[0]: message``, naming
    the first bad field. A bad item also makes its list "too short" to pydantic; only the item
    is reported."""
    errors = error.errors()
    errors = [
        e
        for e in errors
        if not (
            e["type"] == "too_short"
            and any(o["loc"][: len(e["loc"])] == e["loc"] and o["loc"] != e["loc"] for o in errors)
        )
    ]
    problems = []
    for e in errors:
        message, where = str(e["msg"]).removeprefix("Value error, "), field_path(e["loc"])
        problems.append(f"{where}: {message}" if where else message)
    first = field_path(errors[0]["loc"]) if errors else ""
    return kind(f"{source}: {'; '.join(problems)}", field=first or None)


def describe_error(error: Exception) -> str:
    """One line for a person about an unexpected error: a validation error as the fields it
    names, else the error's own first line, with its kind."""
    if isinstance(error, ValidationError):
        return invalid(error, error.title, InvalidSpec).message
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
