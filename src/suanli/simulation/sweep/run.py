"""Running a sweep's cells: one after another in this process, or in parallel in worker processes."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from collections.abc import Callable, Sequence

from suanli.simulation.sweep.cells import Cell, Row, run_cell, unwrap

Progress = Callable[[int, int], None]  # (cells done, cells in all)


def default_workers() -> int:
    return os.cpu_count() or 1


def run_serial(cells: Sequence[Cell], progress: Progress | None = None) -> list[Row]:
    """Every cell in this process, one after another (the reference for the parallel runs)."""
    rows = []
    for done, cell in enumerate(cells, 1):
        rows.append(unwrap(cell, run_cell(cell)))
        if progress is not None:
            progress(done, len(cells))
    return rows


def run_sweep(cells: Sequence[Cell], max_workers: int | None = None, progress: Progress | None = None) -> list[Row]:
    """The cells in up to ``max_workers`` processes (default: one per CPU); rows in cell order.

    Workers start from a fork server (not a fork of this process, whose threads, such as a
    progress bar's, could hold locks) and keep their traces and fleets cached between cells.
    """
    workers = min(max_workers or default_workers(), len(cells))
    if workers <= 1:
        return run_serial(cells, progress)
    context = _context()
    rows: list[Row | None] = [None] * len(cells)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_cell, cell): i for i, cell in enumerate(cells)}
        try:
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                i = futures[future]
                rows[i] = unwrap(cells[i], future.result())
                if progress is not None:
                    progress(done, len(cells))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [row for row in rows if row is not None]


# Imported once by the fork server, so that each worker it forks starts with them loaded.
PRELOAD = [
    "suanli.simulation.sweep",
    "suanli.simulation.engine",
    "suanli.simulation.metrics",
    "suanli.simulation.fleet",
    "suanli.simulation.traces",
]


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")
