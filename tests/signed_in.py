"""An API client signed in as the installation's first admin, as `suanli up` makes it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from suanli.adapters.api import create_app
from suanli.composition import Container


def admin_token(container: Container) -> str:
    """The admin token of a new installation (made once; read back from the home after)."""
    path = container.settings.home / "token"
    return container.identity.bootstrap(path) or path.read_text().strip()


def signed_in(container: Container) -> TestClient:
    return TestClient(create_app(container), headers={"Authorization": f"Bearer {admin_token(container)}"})
