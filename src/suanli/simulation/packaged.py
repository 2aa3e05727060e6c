"""The public traces that ship inside the package, by name: ``suanli simulate philly``.

One table, :data:`TRACES`: each name gives the loader kind and the file under ``data/`` (a
folder installed with the package; its README says where each file comes from, its licence and
what to cite). :data:`NOT_SHIPPED` lists traces the loaders read whose terms do not let us
redistribute them, with where to get them. :func:`named_trace` looks a name up.

Stdlib only (the CLI builds its help from this table without importing the loaders).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suanli.domain.errors import InvalidSpec

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, slots=True)
class NamedTrace:
    """A trace in ``data/``: ``kind`` is the loader (``suanli simulate --kind``), ``file`` its path
    under :data:`DATA`; the trace's own fleet, where it has one, is found next to it."""

    name: str
    kind: str
    file: str
    about: str

    @property
    def path(self) -> Path:
        return DATA / self.file


@dataclass(frozen=True, slots=True)
class NotShipped:
    """A trace the loaders read that does not ship with Suanli: ``why`` not, and ``where`` to get
    ``files`` (put them in one folder and give the first one's path with ``--kind kind``)."""

    name: str
    kind: str
    files: tuple[str, ...]
    why: str
    where: str


TRACES: dict[str, NamedTrace] = {
    trace.name: trace
    for trace in (
        NamedTrace(
            "philly",
            "philly",
            "philly/philly.csv",
            "Microsoft Philly, 2017: 82,247 jobs; its virtual clusters as centers",
        ),
        NamedTrace(
            "gavel",
            "gavel",
            "gavel/simulation_throughputs.json",
            "Gavel's job generator and measured throughputs; 36 V100 + 36 P100 + 36 K80",
        ),
        *(
            NamedTrace(
                f"pollux-{n}",
                "pollux",
                f"pollux/workloads/workload-{n}.csv",
                f"Pollux's workload {n}: 160 jobs over 8 hours; 16 nodes x 4 T4",
            )
            for n in range(1, 9)
        ),
    )
}

_ALIBABA = "https://github.com/alibaba/clusterdata/tree/master/cluster-trace-gpu-v2023/csv"
NOT_SHIPPED: dict[str, NotShipped] = {
    trace.name: trace
    for trace in (
        NotShipped(
            f"openb-{variant}",
            "openb",
            (f"openb_pod_list_{variant}.csv", "openb_node_list_gpu_node.csv"),
            "Alibaba publishes cluster-trace-gpu-v2023 for research or study use, with no licence to redistribute it",
            _ALIBABA,
        )
        for variant in ("default", "gpushare40", "multigpu50")
    )
}


class UnknownTrace(InvalidSpec):
    title = "Unknown trace"


def names() -> list[str]:
    """The names :func:`named_trace` knows, shipped ones first."""
    return [*TRACES, *NOT_SHIPPED]


def is_name(text: str) -> bool:
    """Whether a command-line argument means a trace by name: a name in the table (``./philly``
    is a file), or a bare word that is no file (a misspelt name, told the names there are)."""
    if text in TRACES or text in NOT_SHIPPED:
        return True
    return "/" not in text and "." not in text and not Path(text).exists()


def named_trace(name: str, *, field: str = "trace") -> NamedTrace:
    """The shipped trace called ``name``; an unknown name, or one that is not shipped, is an
    :class:`UnknownTrace` that says what to do."""
    trace = TRACES.get(name)
    if trace is not None:
        return trace
    elsewhere = NOT_SHIPPED.get(name)
    if elsewhere is not None:
        first = elsewhere.files[0]
        raise UnknownTrace(
            f"{name} does not ship with Suanli: {elsewhere.why}. Download {', '.join(elsewhere.files)} from "
            f"{elsewhere.where} into one folder, then give the path: FOLDER/{first} --kind {elsewhere.kind}",
            field=field,
        )
    raise UnknownTrace(
        f"unknown trace {name!r}: give a file's path, or a trace that ships with Suanli: {', '.join(TRACES)}",
        field=field,
    )
