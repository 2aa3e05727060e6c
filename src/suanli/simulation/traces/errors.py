"""Errors for bad trace data: each names the file, line and column and says what to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from suanli.domain.errors import InvalidSpec


class TraceError(InvalidSpec):
    """A trace file that cannot be read as asked: missing, wrong header, or a malformed row.

    ``line`` is 1-based as an editor shows it (the header is line 1); ``column`` is the column's
    name in the header (or ``None`` when the whole file or row is at fault).
    """

    title = "Invalid trace"

    def __init__(self, file: Path | str, line: int | None, column: str | None, message: str) -> None:
        self.file = Path(file)
        self.line = line
        self.column = column
        self.reason = message
        where = str(self.file)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}", field=column)


@dataclass(slots=True)
class SkipLog:
    """Rows skipped with ``skip_bad=True``: how many, and the first few reasons for a report."""

    keep: int = 5
    count: int = 0
    reasons: list[str] = field(default_factory=list)

    def add(self, error: TraceError) -> None:
        self.count += 1
        if len(self.reasons) < self.keep:
            self.reasons.append(error.message)
