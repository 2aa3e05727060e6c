"""The wire format of single sign-on (``/api/v1/auth/oidc/...``): the device flow the CLI runs,
and what a finished sign-in answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from suanli.domain.identity import Role
from suanli.domain.limits import NoNul

MAX_DEVICE_CODE_CHARS = 2000


class OidcSignedInOut(BaseModel):
    """Who signed in, and the session or token they got (as a password sign-in answers)."""

    name: str
    organization: str = Field(description="the organization the session or token acts for")
    roles: list[Role] = Field(description="the roles held there")
    email: str = ""
    display_name: str = ""
    expires_at: datetime | None
    token_prefix: str
    csrf_token: str | None = Field(
        default=None, description="browser: send it as X-CSRF-Token with every change (also in the suanli_csrf cookie)"
    )
    token: str | None = Field(default=None, description="device flow: the API token, shown this once")


class OidcDeviceOut(BaseModel):
    """A device sign-in started at the provider (RFC 8628): show the person where to go and the
    code to enter there, then poll with ``device_code``."""

    device_code: str = Field(description="what POST /auth/oidc/device/token takes; keep it to this client")
    user_code: str = Field(description="the code the person enters at verification_uri")
    verification_uri: str
    verification_uri_complete: str | None = Field(default=None, description="the same, with the code filled in")
    expires_in: int = Field(description="seconds the code stays good")
    interval: int = Field(description="seconds to wait between polls")


class OidcDeviceTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_code: Annotated[str, Field(min_length=1, max_length=MAX_DEVICE_CODE_CHARS), NoNul()]


class OidcDeviceTokenOut(BaseModel):
    """``pending`` (HTTP 202): the person has not finished at the provider; poll again after
    ``interval`` seconds. ``done`` (200): ``signed_in`` holds the new API token."""

    status: Literal["pending", "done"]
    interval: int | None = None
    signed_in: OidcSignedInOut | None = None
