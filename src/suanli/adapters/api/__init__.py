"""The REST API adapter (FastAPI). Its wire types live in ``suanli.protocol``, importable without
FastAPI by the SDK and the agent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from suanli.adapters.api.app import ApiServices, create_app

__all__ = ["ApiServices", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing a submodule (bulk, problems) does not build the whole app module.
    if name in __all__:
        from suanli.adapters.api import app

        return getattr(app, name)
    raise AttributeError(name)
