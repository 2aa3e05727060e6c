"""Trace loaders, one module per source, and :func:`load_trace` to pick one by name.

Kinds: ``philly``, ``openb``, ``pollux``, ``gavel`` (a generator; ``path`` is its throughput
matrix) and ``generic`` (a user's CSV with a column mapping). Helios is not a kind: its public
release has per-cluster summary statistics, not jobs. The public traces that ship with the
package, by name: ``suanli.simulation.packaged``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from suanli.simulation.traces.errors import TraceError
from suanli.simulation.traces.gavel import generate_gavel
from suanli.simulation.traces.generic import load_generic
from suanli.simulation.traces.openb import load_openb
from suanli.simulation.traces.philly import load_philly
from suanli.simulation.traces.pollux import load_pollux
from suanli.simulation.workload import Workload

LOADERS: dict[str, Callable[..., Workload]] = {
    "philly": load_philly,
    "openb": load_openb,
    "pollux": load_pollux,
    "gavel": generate_gavel,
    "generic": load_generic,
}


def load_trace(kind: str, path: Path | str, **options: Any) -> Workload:
    """Load a trace of ``kind``; ``options`` go to its loader (``skip_bad`` for all of them)."""
    loader = LOADERS.get(kind)
    if loader is None:
        raise TraceError(path, None, None, f"unknown trace kind {kind!r}; known: {', '.join(sorted(LOADERS))}")
    try:
        return loader(path, **options)
    except TypeError as error:
        # Only a wrong option reaches here (loaders turn bad data into TraceError).
        if "argument" not in str(error):
            raise
        raise TraceError(path, None, None, f"bad option for the {kind} loader: {error}") from None


__all__ = [
    "LOADERS",
    "TraceError",
    "generate_gavel",
    "load_generic",
    "load_openb",
    "load_philly",
    "load_pollux",
    "load_trace",
]
