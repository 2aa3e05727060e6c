"""The agent's backends, one folder each, registered here by name.

Each backend's package has a ``build(options) -> Backend`` that makes its executor from the
agent's options. It imports the executor, and the optional SDK behind it (``ray``,
``kubernetes``), only when it is called: looking a backend up costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from suanli.agent.backends import kubernetes, local, ray, slurm
from suanli.agent.backends.options import Backend, BackendOptions, BadOption

__all__ = ["BACKENDS", "Backend", "BackendFactory", "BackendOptions", "BadOption", "UnknownBackend", "backend_factory"]

BackendFactory = Callable[[BackendOptions], Backend]

BACKENDS: dict[str, BackendFactory] = {
    "local": local.build,
    "slurm": slurm.build,
    "kubernetes": kubernetes.build,
    "ray": ray.build,
}


class UnknownBackend(LookupError):
    """A backend name this release does not have; the message lists those it has."""


def backend_factory(name: str) -> BackendFactory:
    """The factory of the backend called ``name``."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise UnknownBackend(f"unknown backend {name!r}; this release has: {', '.join(BACKENDS)}") from None
