"""The accelerator catalog a simulation uses: the built-in models plus those public traces name."""

from __future__ import annotations

from collections.abc import Iterable

from suanli.domain.accelerators import AcceleratorCatalog, ExtraAccelerator

# Models that public traces use and the built-in catalog lacks. P100 and K80 factors are the
# geometric mean, over Gavel's 26 single-GPU job types, of their measured throughput relative to
# the V100 (gavel/simulation_throughputs.json; a test recomputes them). A10 is a planning figure.
# G2 and G3 are Alibaba's anonymized models in openb: their speed is unknown (1.0 = no scaling).
TRACE_ACCELERATORS: tuple[ExtraAccelerator, ...] = (
    ExtraAccelerator(name="P100", vendor="NVIDIA", memory_gb=16, throughput=0.943, aliases=["P100-16G"]),
    ExtraAccelerator(name="K80", vendor="NVIDIA", memory_gb=12, throughput=0.297),
    ExtraAccelerator(name="A10", vendor="NVIDIA", memory_gb=24, throughput=0.8),
    ExtraAccelerator(name="G2", vendor="unknown (openb anonymized)", memory_gb=0, throughput=1.0),
    ExtraAccelerator(name="G3", vendor="unknown (openb anonymized)", memory_gb=0, throughput=1.0),
)


def trace_catalog(extra: Iterable[ExtraAccelerator] = ()) -> AcceleratorCatalog:
    models = {m.name: m for m in TRACE_ACCELERATORS}
    models.update({m.name: m for m in extra})
    return AcceleratorCatalog.with_extra([m.model_dump() for m in models.values()])
