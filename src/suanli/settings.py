"""Settings, built once at start and passed in (never imported as a global).

Read from the environment (``SUANLI_*``) and, if present, ``$SUANLI_HOME/config.yaml``.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.errors import InvalidSpec
from suanli.scheduler.registry import PROFILES, Profile


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUANLI_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".suanli")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8642
    workers: int = Field(default=1, ge=1, le=64, description="API server processes; one of them schedules")
    scheduler_profile: str = "default"
    scheduler: dict[str, Any] | None = None  # a full profile, overrides scheduler_profile
    scheduler_interval_s: float = 1.0
    accelerators: list[dict[str, Any]] = Field(default_factory=list)  # extra catalog models
    max_body_bytes: int = 8 * 1024 * 1024
    max_jobs_per_request: int = 100_000
    agent_heartbeat_s: float = Field(default=5.0, gt=0, description="how often agents are asked to heartbeat")
    agent_offline_after_s: float = Field(
        default=30.0, gt=0, description="a center whose agent is silent this long goes OFFLINE; its attempts are LOST"
    )
    usage_interval_s: float = Field(
        default=3600.0,
        ge=1,
        description="a running attempt's usage is recorded in intervals this long (checkpoints), so that bills "
        "and budgets stay current; its last record covers the rest when it ends (docs/metering.md)",
    )
    platform_fee: Decimal = Field(
        default=Decimal(0),
        ge=0,
        le=1,
        description="the platform's share of every charge (0.05: 5%), booked to fee:platform; the center's owner "
        "earns the rest",
    )
    token_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="how long a server process reuses an API token's lookup; a revocation reaches the other "
        "processes within this time (the process that revokes drops it at once)",
    )
    session_lifetime_s: float = Field(
        default=12 * 3600,
        gt=0,
        le=30 * 86400,
        description="how long a browser session opened by a password sign-in lasts",
    )
    audit_wait: bool = Field(
        default=False,
        description=(
            "answer a state-changing request only once its audit entry is stored (else it is stored within "
            "about 50 ms, with others: cheaper, but a server killed meanwhile loses those entries)"
        ),
    )
    # Single sign-on with OpenID Connect (docs/security.md): off while oidc_issuer is unset.
    oidc_issuer: str | None = Field(
        default=None,
        description="the OpenID provider's issuer URL, exactly as its discovery document names it "
        "(https; http only on localhost); unset: no single sign-on",
    )
    oidc_client_id: str | None = Field(default=None, description="Suanli's client id at the provider")
    oidc_client_secret: SecretStr | None = Field(default=None, description="Suanli's client secret at the provider")
    oidc_scopes: str = Field(
        default="openid email profile",
        description="the scopes asked for, space-separated; add the one that brings oidc_roles_claim if the "
        "provider needs one",
    )
    oidc_roles_claim: str = Field(
        default="suanli_roles",
        description='the claim that lists "organization:role" values, e.g. ["acme:org-admin", "acme:member"]',
    )
    oidc_username_claim: str = Field(
        default="preferred_username", description="the claim whose value names the Suanli user"
    )
    oidc_redirect_uri: str | None = Field(
        default=None,
        description="the callback URL registered at the provider (default: this server's "
        "/api/v1/auth/oidc/callback as the request reached it; set it behind a proxy)",
    )
    oidc_allow_platform_admin: bool = Field(
        default=False,
        description="let the provider grant platform-admin (and let platform admins sign in with it)",
    )
    oidc_token_lifetime_s: float = Field(
        default=12 * 3600,
        gt=0,
        le=30 * 86400,
        description="how long the API token of `suanli login --oidc` lasts",
    )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'suanli.db'}"

    def catalog(self) -> AcceleratorCatalog:
        return AcceleratorCatalog.with_extra(self.accelerators)

    def profile(self) -> Profile:
        if self.scheduler is not None:
            return Profile.from_config(self.scheduler)
        if self.scheduler_profile not in PROFILES:
            raise InvalidSpec(
                f"unknown scheduler profile {self.scheduler_profile!r}; available: {', '.join(sorted(PROFILES))}"
            )
        return PROFILES[self.scheduler_profile]


def private_home(home: Path) -> None:
    """Creates the home folder 0700, or makes an existing one of ours 0700: it holds the SQLite
    database, job logs and the agent's work, none of which other users of the machine may read.
    A home that cannot be created (a read-only client machine) is left to the command that needs it."""
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = home.stat()
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            home.chmod(0o700)
    except OSError:
        pass


def load_settings(**overrides: Any) -> Settings:
    """Environment first, then ``config.yaml`` under the home for what the environment leaves
    unset. The home is made private (``private_home``) before anything is written there."""
    settings = Settings(**overrides)
    private_home(settings.home)
    config_file = settings.home / "config.yaml"
    if config_file.is_file():
        data = yaml.safe_load(config_file.read_text()) or {}
        if not isinstance(data, dict):
            raise InvalidSpec(f"{config_file} must hold a mapping of settings")
        unknown = sorted(str(k) for k in data if k not in Settings.model_fields)
        if unknown:
            known = ", ".join(sorted(Settings.model_fields))
            raise InvalidSpec(f"{config_file}: unknown setting(s) {', '.join(unknown)}; known: {known}")
        # Keyword arguments outrank the environment in pydantic-settings, so pass on only what
        # neither the caller nor the environment sets: the file is the lowest layer.
        from_file = {k: v for k, v in data.items() if f"SUANLI_{str(k).upper()}" not in os.environ}
        settings = Settings(**{**from_file, **overrides})
    return settings
