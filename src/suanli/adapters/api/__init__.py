"""The REST API adapter (FastAPI). ``schemas`` is importable without FastAPI, for the SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from suanli.adapters.api.app import create_app, create_app_from_settings

__all__ = ["create_app", "create_app_from_settings"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the wire schemas (as the SDK and CLI do) does not import FastAPI.
    if name in __all__:
        from suanli.adapters.api import app

        return getattr(app, name)
    raise AttributeError(name)
