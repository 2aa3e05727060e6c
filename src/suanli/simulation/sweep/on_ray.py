"""Running a sweep's cells as Ray tasks on a cluster, and checking its address before anything starts."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from suanli.simulation.sweep.cells import Cell, Row, run_cell, unwrap
from suanli.simulation.sweep.run import Progress
from suanli.simulation.sweep.spec import DEFAULT_FLEET, SweepError


def check_ray_address(address: str) -> None:
    if address.startswith(("http://", "https://")):
        raise SweepError(
            f"{address} is a dashboard / Jobs API address; give the cluster's GCS address (HOST:6379, "
            "or 'auto' on a cluster node) or a Ray Client address (ray://HOST:10001)",
            field="--ray-address",
        )


def run_on_ray(
    cells: Sequence[Cell],
    address: str,
    progress: Progress | None = None,
    *,
    working_dir: Path | None = None,
    runtime_env: Mapping[str, Any] | None = None,
) -> list[Row]:
    """The same cells as Ray tasks (one CPU each) on the cluster at ``address``; rows in cell order.

    Workers must be able to import ``suanli`` (installed in the cluster's image, or via
    ``runtime_env``, e.g. ``{"pip": ["suanli"]}``) and read the cells' files: by the same paths
    on a shared filesystem, or, with ``working_dir``, from that folder, which Ray uploads (paths
    under it are sent relative to it).
    """
    check_ray_address(address)
    try:
        import ray
    except ImportError:
        raise SweepError(
            "--ray-address needs Ray: pip install 'suanli[ray]' (or 'ray[default]')", field="--ray-address"
        ) from None
    env = dict(runtime_env or {})
    if working_dir is not None:
        root = working_dir.resolve()
        env["working_dir"] = str(root)
        cells = [_relative_to(cell, root) for cell in cells]
    started_here = not ray.is_initialized()
    if started_here:
        _check_reachable(address)
        try:
            ray.init(
                address=address,
                runtime_env=env or None,
                logging_level=logging.WARNING,
                log_to_driver=False,
                configure_logging=True,
            )
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise SweepError(f"cannot connect to Ray at {address}: {error}", field="--ray-address") from None
    try:
        remote = ray.remote(num_cpus=1, max_retries=1)(run_cell)
        refs = [remote.remote(cell) for cell in cells]
        index = {ref: i for i, ref in enumerate(refs)}
        rows: list[Row | None] = [None] * len(cells)
        pending = list(refs)
        done = 0
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    i = index[ref]
                    rows[i] = unwrap(cells[i], ray.get(ref))
                    done += 1
                    if progress is not None:
                        progress(done, len(cells))
        except BaseException:
            for ref in pending:
                ray.cancel(ref)
            raise
        return [row for row in rows if row is not None]
    finally:
        if started_here:
            ray.shutdown()


def _probe(host: str, port: int, timeout_s: float = 3.0) -> bool:
    import socket

    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _check_reachable(address: str) -> None:
    """Fails fast (instead of Ray retrying for minutes) when no GCS answers at a HOST:PORT address."""
    if "://" in address or ":" not in address:
        return  # ray://, 'auto', 'local': Ray finds or starts the cluster itself
    host, _, port_text = address.rpartition(":")
    if not port_text.isdigit():
        raise SweepError(f"expected HOST:PORT, got {address!r}", field="--ray-address")
    if not _probe(host, int(port_text)):
        raise SweepError(f"no Ray head answers at {address}", field="--ray-address")
    try:  # Ray swaps a loopback address for this machine's own address before it connects
        from ray._private.services import canonicalize_bootstrap_address

        target = canonicalize_bootstrap_address(address)
    except Exception:  # a private helper: if it moved, let ray.init speak for itself
        return
    if target and target != address:
        host, _, port_text = target.rpartition(":")
        if port_text.isdigit() and not _probe(host, int(port_text)):
            raise SweepError(
                f"Ray would connect to {target} (this machine's address for {address}), where nothing answers: "
                "the head listens on loopback only; set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in the environment, "
                "as scripts/lab/ray-up.sh does for the head",
                field="--ray-address",
            )


def _relative_to(cell: Cell, root: Path) -> Cell:
    def rel(path: str) -> str:
        if path == DEFAULT_FLEET:
            return path
        resolved = Path(path).resolve()
        return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else path

    return dataclasses.replace(cell, trace_path=rel(cell.trace_path), fleet_file=rel(cell.fleet_file))
