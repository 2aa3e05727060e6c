"""Reading trace CSVs: open and check the header, walk rows with line numbers, parse fields.

Every failure becomes a :class:`TraceError` naming file, line and column; loaders never let a
raw ``ValueError``/``KeyError`` out for bad data.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from suanli.simulation.traces.errors import SkipLog, TraceError

T = TypeVar("T")


class BadField(Exception):
    """A field that cannot be parsed; the caller adds file and line."""

    def __init__(self, column: str | None, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TraceError(path, None, None, f"no such file; give the path of the {what}") from None
    except IsADirectoryError:
        raise TraceError(path, None, None, f"is a folder; give the path of the {what} file") from None
    except UnicodeDecodeError as error:
        raise TraceError(path, None, None, f"not UTF-8 text ({error.reason}); is this the {what}?") from None
    except OSError as error:
        raise TraceError(path, None, None, f"cannot read it: {error.strerror or error}") from None


@dataclass(slots=True)
class Table:
    """A CSV file with a checked header. ``index`` maps column names to positions."""

    path: Path
    header: list[str]
    index: dict[str, int]
    _reader: Iterator[list[str]]
    _line: Callable[[], int]

    def has(self, column: str) -> bool:
        return column in self.index

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line, fields) for each non-blank row, as read (see :meth:`check_width`)."""
        try:
            for row in self._reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                yield self._line(), row
        except csv.Error as error:
            raise TraceError(self.path, self._line(), None, f"not valid CSV: {error}") from None

    def check_width(self, row: list[str]) -> None:
        width = len(self.header)
        if len(row) != width:
            raise BadField(
                self.header[min(len(row), width - 1)],
                f"the row has {len(row)} fields but the header has {width}; check for a missing or extra comma",
            )


def open_table(path: Path | str, required: Sequence[str], what: str) -> Table:
    """Read ``path`` and check that its header names every column in ``required``."""
    path = Path(path)
    text = read_text(path, what)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise TraceError(path, 1, None, f"the file is empty; expected a header with {', '.join(required)}") from None
    except csv.Error as error:
        raise TraceError(path, 1, None, f"not valid CSV: {error}") from None
    header = [name.strip() for name in header]
    missing = [name for name in required if name not in header]
    if missing:
        raise TraceError(
            path,
            1,
            missing[0],
            f"the header lacks column(s) {', '.join(missing)}; it has {', '.join(header) or 'nothing'}. "
            f"Is this the {what}?",
        )
    index = {name: i for i, name in enumerate(header)}
    return Table(path, header, index, reader, lambda: reader.line_num)


def collect(
    table: Table, parse: Callable[[int, list[str]], T | None], skip_bad: bool, skips: SkipLog | None = None
) -> tuple[list[T], SkipLog]:
    """Parse every row; a bad row raises :class:`TraceError`, or is counted when ``skip_bad``.

    ``parse`` returns ``None`` for a row it filters out on purpose (not counted as bad).
    """
    skips = skips if skips is not None else SkipLog()
    out: list[T] = []
    for line, row in table.rows():
        try:
            table.check_width(row)
            value = parse(line, row)
        except BadField as bad:
            row_error = TraceError(table.path, line, bad.column, bad.message)
            if not skip_bad:
                raise row_error from None
            skips.add(row_error)
            continue
        if value is not None:
            out.append(value)
    return out, skips


def number(text: str, column: str, *, minimum: float | None = 0.0) -> float:
    """A finite float, at least ``minimum`` when given."""
    try:
        value = float(text)
    except ValueError:
        raise BadField(column, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadField(column, f"{text!r} is not a finite number")
    if minimum is not None and value < minimum:
        raise BadField(column, f"{text!r} is below {minimum:g}; it cannot be negative")
    return value


def integer(text: str, column: str, *, minimum: int = 0) -> int:
    """A whole number (``4`` or ``4.0``), at least ``minimum``."""
    try:
        value = int(text)
    except ValueError:
        as_float = number(text, column, minimum=None)
        if not as_float.is_integer():
            raise BadField(column, f"{text!r} is not a whole number") from None
        value = int(as_float)
    if value < minimum:
        raise BadField(column, f"{text!r} is below {minimum}")
    return value
