"""What this machine offers to the local executor: detected NVIDIA GPUs, slots an operator
declared (``MODEL:N``), or, with neither, its CPU cores.

Unknown GPU models are kept under the name ``nvidia-smi`` reports (e.g. ``NVIDIA H200``) and
added to the executor's own copy of the catalog, with the name minus its vendor prefix as an
alias, so they can be placed and shown; the server must know the model too (an operator adds it
to the catalog in config) before jobs can ask for it by name.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from enum import StrEnum

from suanli.domain.accelerators import CPU, AcceleratorCatalog, AcceleratorModel
from suanli.domain.centers import Pool
from suanli.domain.errors import InvalidSpec

log = logging.getLogger(__name__)

NVIDIA_SMI_QUERY = ("--query-gpu=index,name,memory.total", "--format=csv,noheader")
_VENDOR_PREFIXES = ("NVIDIA ", "Tesla ", "Quadro ", "GeForce ")
_MEMORY_TOLERANCE = 0.2  # a catalog model matches a bare family name only if memory is this close


class CapacitySource(StrEnum):
    NVIDIA_SMI = "nvidia-smi"  # real GPUs, detected
    DECLARED = "declared"  # slots an operator declared with MODEL:N; nothing checks they exist
    CPU = "cpu"  # no accelerators: the pool counts this machine's cores
    CONFIGURED = "configured"  # pools passed in by the caller (config)


@dataclass(frozen=True, slots=True)
class GpuInfo:
    index: int
    name: str
    memory_mib: float | None  # None when nvidia-smi says [N/A]


@dataclass(slots=True)
class Capacity:
    """The pools of this machine and the local device indices behind each pool."""

    source: CapacitySource
    pools: list[Pool]
    devices: dict[str, list[int]] = field(default_factory=dict)  # pool name -> device indices


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """Parses ``nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader`` output.

    Lines it cannot read are skipped (and logged): a strange driver must not stop the agent.
    """
    gpus: list[GpuInfo] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 3 or not parts[0].isdigit():
            log.warning("ignoring an nvidia-smi line I cannot read: %r", line)
            continue
        name = ", ".join(parts[1:-1])
        gpus.append(GpuInfo(int(parts[0]), name, _mebibytes(parts[-1])))
    return gpus


def _mebibytes(text: str) -> float | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(MiB|GiB)?", text)
    if match is None:
        return None
    value = float(match.group(1))
    return value * 1024 if match.group(2) == "GiB" else value


def query_nvidia_smi(binary: str = "nvidia-smi", timeout_s: float = 10.0) -> list[GpuInfo]:
    """The GPUs ``nvidia-smi`` lists; none when the binary is missing or fails."""
    path = shutil.which(binary)
    if path is None:
        return []
    try:
        done = subprocess.run([path, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        log.warning("nvidia-smi did not answer (%s); treating this machine as having no GPUs", error)
        return []
    if done.returncode != 0:
        log.warning("nvidia-smi exited with %s: %s", done.returncode, done.stderr.strip()[:500])
        return []
    return parse_nvidia_smi(done.stdout)


def match_model(gpu: GpuInfo, catalog: AcceleratorCatalog) -> AcceleratorModel | None:
    """The catalog model for a detected GPU, or None when the catalog does not know it.

    Tries the full name, the name without its vendor prefix, ``FAMILY-<memory>G`` (e.g.
    ``A100-80G``), and the bare family (``H100``) only when the catalog's memory agrees, so an
    A100 40GB is not taken for the 80GB model.
    """
    bare = _strip_vendor(gpu.name)
    family = re.split(r"[\s\-]", bare, maxsplit=1)[0]
    candidates = [gpu.name, bare]
    gib = gpu.memory_mib / 1024 if gpu.memory_mib else None
    if gib is not None:
        candidates.append(f"{family}-{round(gib)}G")
    for name in candidates:
        if name in catalog:
            return catalog.resolve(name)
    if family in catalog:
        model = catalog.resolve(family)
        if gib is None or abs(model.memory_gb - gib) <= _MEMORY_TOLERANCE * model.memory_gb:
            return model
    return None


def _strip_vendor(name: str) -> str:
    for prefix in _VENDOR_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :].strip()
    return name


def gpu_capacity(gpus: list[GpuInfo], catalog: AcceleratorCatalog) -> Capacity:
    """One pool per GPU model found (usually one), with the real device indices.

    Adds unknown models to ``catalog`` (see the module note).
    """
    by_model: dict[str, list[GpuInfo]] = {}
    for gpu in gpus:
        model = match_model(gpu, catalog)
        if model is None:
            memory = round(gpu.memory_mib / 1024) if gpu.memory_mib else 0
            alias = _strip_vendor(gpu.name)
            aliases = (alias,) if alias != gpu.name and alias not in catalog else ()
            model = AcceleratorModel(gpu.name, "NVIDIA", memory, 1.0, aliases)
            catalog.add(model)
        by_model.setdefault(model.name, []).append(gpu)
    capacity = Capacity(CapacitySource.NVIDIA_SMI, [])
    for name, found in by_model.items():
        pool = _machine_pool(f"local-{slug(name)}", name, len(found))
        capacity.pools.append(pool)
        capacity.devices[pool.name] = sorted(gpu.index for gpu in found)
    return capacity


def declared_capacity(declared: str, catalog: AcceleratorCatalog) -> Capacity:
    """Slots an operator declares as ``MODEL:N`` (e.g. ``A100-80G:4``: one node of 4) or
    ``MODEL:NODESxN`` (e.g. ``CPU:2x1``: two node slots of one, so a 2-node gang can run here),
    numbered 0..NODES*N-1."""
    model_name, sep, count_text = declared.rpartition(":")
    nodes_text, times, per_text = count_text.strip().lower().rpartition("x")
    if not times:
        nodes_text = "1"
    if not sep or not model_name.strip() or not _positive(nodes_text) or not _positive(per_text):
        raise InvalidSpec(
            f"declare accelerators as MODEL:N or MODEL:NODESxN with numbers >= 1, e.g. A100-80G:4 or CPU:2x1; "
            f"got {declared!r}"
        )
    model = catalog.resolve(model_name.strip())
    nodes, per_node = int(nodes_text), int(per_text)
    count = nodes * per_node
    cpus = machine_cpus()
    if model.name == CPU and count > cpus:
        raise InvalidSpec(f"this machine has {cpus} CPU cores; cannot declare {count}")
    pool = _machine_pool(f"declared-{slug(model.name)}", model.name, per_node, nodes)
    return Capacity(CapacitySource.DECLARED, [pool], {pool.name: list(range(count))})


def _positive(text: str) -> bool:
    return text.isdigit() and int(text) >= 1


def cpu_capacity() -> Capacity:
    cpus = machine_cpus()
    pool = _machine_pool("local-cpu", CPU, cpus)
    return Capacity(CapacitySource.CPU, [pool], {pool.name: list(range(cpus))})


def configured_capacity(pools: list[Pool], catalog: AcceleratorCatalog) -> Capacity:
    """Pools from config. Device indices are numbered on from 0 per visible-devices variable,
    in the order given, so two CUDA pools on one machine do not share a device."""
    if not pools:
        raise InvalidSpec("give this machine at least one pool")
    names = [pool.name for pool in pools]
    if len(set(names)) != len(names):
        raise InvalidSpec(f"pool names must be unique; got {', '.join(names)}")
    next_index: dict[str, int] = {}
    devices: dict[str, list[int]] = {}
    for pool in pools:
        env = catalog.resolve(pool.accelerator).visible_devices_env
        first = next_index.get(env, 0)
        devices[pool.name] = list(range(first, first + pool.accelerators))
        next_index[env] = first + pool.accelerators
    return Capacity(CapacitySource.CONFIGURED, list(pools), devices)


def _machine_pool(name: str, accelerator: str, count: int, nodes: int = 1) -> Pool:
    """This machine as ``nodes`` node slots of ``count`` each, sharing its cores and memory."""
    cpus = machine_cpus()
    return Pool(
        name=name,
        accelerator=accelerator,
        accelerators_per_node=count,
        cpus_per_node=max(1, cpus // nodes) if accelerator != CPU else max(count, cpus // nodes),
        memory_gb_per_node=max(machine_memory_gb() / nodes, 0.1),
        nodes=nodes,
        price_per_accelerator_hour=0.0,
    )


def slug(name: str) -> str:
    """A pool-name-safe form of a model name: ``NVIDIA H200`` -> ``nvidia-h200``."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return text[:50].rstrip("-") or "gpu"


def machine_cpus() -> int:
    return os.cpu_count() or 1


def machine_memory_gb() -> float:
    """Total memory in GiB, from /proc/meminfo where there is one, else from sysconf."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)
    except (OSError, ValueError):
        return 1.0
