"""Sweeps: many simulations (profiles x loads x seeds x fleets) in parallel, combined into one comparison.

A :class:`SweepSpec` (YAML file or CLI options; ``spec``) expands into :class:`Cell` s, one
simulation each (``cells``). Cells run in worker processes (:func:`run_sweep`, a
``ProcessPoolExecutor``; ``run``) or as Ray tasks on a cluster (:func:`run_on_ray`; ``on_ray``);
either way each cell is :func:`run_cell`, which loads its trace and fleet (cached per process),
runs :class:`~suanli.simulation.engine.Simulation` and returns a small row: the cell's parameters
and :meth:`Summary.as_dict`. Rows come back in cell order, whatever the order they finish in, so
the same spec gives the same rows (but for the wall-clock fields :data:`TIMING_FIELDS`).

Loads: for the Gavel generator a load is its arrival rate (jobs per hour); for a real trace it is a
time-scale factor: submit times are divided by it (2.0 = the same jobs arriving twice as fast).

:func:`aggregate` combines rows over seeds: mean, min and max of each metric per
profile x load x fleet (``aggregate``); ``report`` draws them. See docs/sweeps.md.
"""

from suanli.simulation.sweep.aggregate import (
    GROUP_FIELDS,
    LABEL_FIELDS,
    TIMING_FIELDS,
    aggregate,
    comparable,
    is_number,
    jsonable,
    metric_names,
    write_results,
)
from suanli.simulation.sweep.cells import (
    CELL_FIELDS,
    Cell,
    Row,
    expand,
    fleet_of,
    run_cell,
    scale_time,
    simulate_cell,
    workload_of,
)
from suanli.simulation.sweep.on_ray import check_ray_address, run_on_ray
from suanli.simulation.sweep.run import PRELOAD, Progress, default_workers, run_serial, run_sweep
from suanli.simulation.sweep.spec import (
    DEFAULT_FILL,
    DEFAULT_FLEET,
    DEFAULT_JOBS_PER_HOUR,
    GENERATED,
    KINDS,
    SweepError,
    SweepSpec,
    TraceSource,
    check,
    load_kind,
    load_spec,
    read_spec_file,
    spec_from_dict,
)

__all__ = [
    "CELL_FIELDS",
    "DEFAULT_FILL",
    "DEFAULT_FLEET",
    "DEFAULT_JOBS_PER_HOUR",
    "GENERATED",
    "GROUP_FIELDS",
    "KINDS",
    "LABEL_FIELDS",
    "PRELOAD",
    "TIMING_FIELDS",
    "Cell",
    "Progress",
    "Row",
    "SweepError",
    "SweepSpec",
    "TraceSource",
    "aggregate",
    "check",
    "check_ray_address",
    "comparable",
    "default_workers",
    "expand",
    "fleet_of",
    "is_number",
    "jsonable",
    "load_kind",
    "load_spec",
    "metric_names",
    "read_spec_file",
    "run_cell",
    "run_on_ray",
    "run_serial",
    "run_sweep",
    "scale_time",
    "simulate_cell",
    "spec_from_dict",
    "workload_of",
    "write_results",
]
