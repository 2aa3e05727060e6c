"""Alibaba GPU cluster trace 2023, "openb" pod lists (FGD, USENIX ATC'23).

Columns ``name,cpu_milli,memory_mib,num_gpu,gpu_milli`` and, in the default and gpushare40
lists, ``gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time``. Choices:

- Every pod is kept by default, as the FGD measure samples all of them; ``phases`` keeps only
  pods in the given ``pod_phase`` values (e.g. ``{"Running", "Succeeded", "Failed"}`` drops the
  pods that were never scheduled).
- ``submit_s`` = ``creation_time`` (already seconds from the trace's start; not shifted).
  ``duration_s`` = ``deletion_time`` − ``scheduled_time``: the time the pod held its resources.
  A pod that was never scheduled (``Pending``, empty ``scheduled_time``) gets ``deletion_time`` −
  ``creation_time``, its lifetime, and ``attrs`` ``scheduled=no``.
- A list without time columns (multigpu50) gives no times: every pod has ``submit_s`` 0 in the
  file's order and ``duration_s`` = ``inf`` (the FGD measure: pods arrive in order, never leave).
- ``gpus`` = ``num_gpu``; ``gpu_milli`` is the share of each GPU (below 1000 only for one-GPU
  shared pods; a multi-GPU pod asks for whole GPUs); ``cpus`` = ``cpu_milli``/1000;
  ``memory_gb`` = ``memory_mib``/1024; ``nodes`` = 1 (a pod runs on one node); ``status`` =
  ``pod_phase``; ``attrs`` keep ``qos`` and a non-empty ``gpu_spec`` (the GPU models the pod
  accepts, e.g. ``V100M16|V100M32``).
- Run time does not scale by accelerator (``reference_accelerator`` is None): the trace has no
  speed model and FGD measures allocation only.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path

from suanli.simulation.traces._table import BadField, collect, integer, open_table
from suanli.simulation.traces.errors import TraceError
from suanli.simulation.workload import TraceJob, Workload, sorted_jobs

COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")


def load_openb(path: Path | str, *, skip_bad: bool = False, phases: Collection[str] | None = None) -> Workload:
    table = open_table(path, COLUMNS, "openb pod list (openb_pod_list_*.csv)")
    ix = table.index
    timed = table.has("creation_time")
    if timed and not table.has("deletion_time"):
        raise TraceError(table.path, 1, "deletion_time", "the header has creation_time but no deletion_time; add it")
    i_sched = ix.get("scheduled_time")
    i_phase, i_qos, i_spec = ix.get("pod_phase"), ix.get("qos"), ix.get("gpu_spec")
    wanted = frozenset(phases) if phases is not None else None

    def parse(line: int, row: list[str]) -> TraceJob | None:
        phase = row[i_phase].strip() if i_phase is not None else None
        if wanted is not None and phase not in wanted:
            return None
        name = row[ix["name"]].strip()
        if not name:
            raise BadField("name", "empty pod name")
        gpus = integer(row[ix["num_gpu"]], "num_gpu")
        milli = integer(row[ix["gpu_milli"]], "gpu_milli")
        if milli > 1000:
            raise BadField("gpu_milli", f"{milli} is more than one GPU (1000); use num_gpu for several GPUs")
        if gpus == 0 and milli:
            raise BadField("gpu_milli", f"{milli} but num_gpu is 0; a CPU pod has gpu_milli 0")
        if gpus > 0 and milli == 0:
            raise BadField("gpu_milli", "0 but the pod asks for GPUs; give its share of each GPU (1-1000)")
        if gpus > 1 and milli != 1000:
            raise BadField("gpu_milli", f"{milli} for a {gpus}-GPU pod; GPU sharing is for one-GPU pods only")
        attrs: list[tuple[str, str]] = []
        if timed:
            created = integer(row[ix["creation_time"]], "creation_time")
            deleted = integer(row[ix["deletion_time"]], "deletion_time")
            text = row[i_sched].strip() if i_sched is not None else ""
            if text:
                started = integer(text, "scheduled_time")
                if started < created:
                    raise BadField("scheduled_time", f"{started} is before creation_time {created}")
            else:
                started = created
                attrs.append(("scheduled", "no"))
            if deleted < started:
                column = "scheduled_time" if text else "creation_time"
                raise BadField(
                    "deletion_time", f"{deleted} is before {column} {started}; the pod ends before it starts"
                )
            submit, duration = float(created), float(deleted - started)
        else:
            submit, duration = 0.0, math.inf
        if i_qos is not None and row[i_qos].strip():
            attrs.append(("qos", row[i_qos].strip()))
        if i_spec is not None and row[i_spec].strip():
            attrs.append(("gpu_spec", row[i_spec].strip()))
        return TraceJob(
            id=name,
            submit_s=submit,
            duration_s=duration,
            gpus=gpus,
            gpu_milli=milli,
            nodes=1,  # a pod runs on one node
            cpus=integer(row[ix["cpu_milli"]], "cpu_milli") / 1000,
            memory_gb=integer(row[ix["memory_mib"]], "memory_mib") / 1024,
            status=phase or None,
            attrs=tuple(attrs),
        )

    jobs, skips = collect(table, parse, skip_bad)
    table_path = table.path
    return Workload(
        name=f"openb:{table_path.stem.removeprefix('openb_pod_list_')}",
        jobs=sorted_jobs(jobs),
        reference_accelerator=None,
        source=table_path,
        skipped=skips.count,
        skip_reasons=tuple(skips.reasons),
    )
