"""Tenants (租户): the organizations that use compute. Authentication arrives in its own issue;
until then every request acts for the default tenant, and every job carries its tenant id."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

DEFAULT_TENANT = "default"


class Tenant(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
