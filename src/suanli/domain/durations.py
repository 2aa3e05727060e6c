"""Human durations ("90m", "2h30m", "1d") to seconds, for time limits in job specs."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# ASCII digits only (``\d`` would take other scripts' digits too), so that the JSON schema's
# pattern and this parser accept the same strings.
DURATION_PATTERN = r"^\s*(?:[0-9]+(?:\.[0-9]+)?\s*[smhdSMHD]\s*)+$"
_DURATION = re.compile(DURATION_PATTERN)
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhd])")


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string like ``"1h30m"``. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '2h' or '1h30m'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        if not _DURATION.match(value):
            raise ValueError(f"{value!r} is not a duration; write seconds or a string like '2h' or '1h30m'")
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(value.lower()))
    else:
        raise ValueError("a duration is a number of seconds or a string like '2h' or '1h30m'")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return "".join(parts)
