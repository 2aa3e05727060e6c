"""Identity: organizations (机构) and their projects, the principals that act for them (people and
service accounts), the roles they hold, and the API tokens they act with.

A principal is a user or a service account with a unique name and a home organization. It holds
roles through memberships, (principal, organization, role). A request acts with one API token,
and the token names the organization it acts for; the request's ``Principal`` carries the roles
held in that organization (plus platform-admin, which is held in the platform organization and
counts everywhere) and the token's scopes. What roles and scopes allow is one table:
``suanli.domain.permissions``.

Tokens are ``sk_`` + 43 URL-safe characters (256 random bits). Only a SHA-256 of a token is
stored; its first eight characters after ``sk_`` are its public prefix, which lists show and
revocation names.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from suanli.domain.centers import NAME_PATTERN
from suanli.domain.limits import NoNul

DEFAULT_ORGANIZATION = "default"  # the platform's own organization; jobs and centers of old databases
DEFAULT_PROJECT = "default"
BOOTSTRAP_ADMIN = "admin"  # the first user of a new installation

TOKEN_PREFIX = "sk_"
TOKEN_PREFIX_CHARS = 8  # the public part after ``sk_``: shown in lists, named to revoke
TOKEN_BODY_PATTERN = r"[A-Za-z0-9_\-]{43}"  # secrets.token_urlsafe(32)
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + TOKEN_BODY_PATTERN)
_PREFIX = re.compile(rf"[A-Za-z0-9_\-]{{{TOKEN_PREFIX_CHARS}}}")
# What names a token in a URL: its prefix, with or without sk_; never the whole token, which
# would be written to access and audit logs.
PREFIX_PATTERN = rf"^(sk_)?[A-Za-z0-9_\-]{{{TOKEN_PREFIX_CHARS}}}$"

Name = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME_PATTERN)]
DisplayName = Annotated[str, Field(max_length=200), NoNul()]


class Role(StrEnum):
    PLATFORM_ADMIN = "platform-admin"
    ORG_ADMIN = "org-admin"
    MEMBER = "member"
    VIEWER = "viewer"
    CENTER_OPERATOR = "center-operator"
    AUDITOR = "auditor"


class Scope(StrEnum):
    """What a token may be used for, whatever its principal's roles allow (see permissions.SCOPE_ALLOWS)."""

    READ = "read"
    SUBMIT = "submit"
    ADMIN = "admin"


FULL_SCOPES = frozenset(Scope)


class PrincipalKind(StrEnum):
    USER = "user"
    SERVICE = "service"  # a service account: a CI pipeline, a gateway; has tokens, no password


class TokenKind(StrEnum):
    """An API token a person or script sends as a Bearer header, or the token of a browser
    session, which travels in an HttpOnly cookie and needs its CSRF token beside it to change
    anything (adapters/api/auth.py)."""

    API = "api"
    SESSION = "session"


MIN_PASSWORD_CHARS = 10  # NIST SP 800-63B asks for at least 8; long passphrases are welcome
MAX_PASSWORD_CHARS = 1024  # hashing a megabyte of "password" would be a cheap way to burn CPU


class OrganizationKind(StrEnum):
    ENTERPRISE = "enterprise"
    UNIVERSITY = "university"
    LAB = "lab"
    CENTER_OWNER = "center-owner"
    AGENCY = "agency"
    PLATFORM = "platform"


class Organization(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: Name
    kind: OrganizationKind
    display_name: DisplayName = ""


class Project(BaseModel):
    """Where jobs, quotas and budgets attach, inside an organization."""

    model_config = ConfigDict(frozen=True)

    organization: Name
    name: Name


class Principal(BaseModel):
    """Who is asking, as one request sees it: the principal, the organization its token acts
    for, the roles it holds there, and the scopes of the token it used."""

    model_config = ConfigDict(frozen=True)

    name: Name
    kind: PrincipalKind
    organization: Name
    roles: frozenset[Role]
    scopes: frozenset[Scope]
    token_prefix: str


class Member(BaseModel):
    """A principal as an organization sees it: its kind, home organization, and roles there."""

    model_config = ConfigDict(frozen=True)

    name: Name
    kind: PrincipalKind
    organization: Name  # its home organization
    roles: frozenset[Role]  # in the organization asked about, as a Principal's (platform-admin counts anywhere)
    disabled: bool = False


class TokenInfo(BaseModel):
    """An API token as lists show it: everything but the secret, which is shown once, at minting."""

    model_config = ConfigDict(frozen=True)

    prefix: str
    name: Name
    principal: Name
    organization: Name  # the organization it acts for
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    kind: TokenKind = TokenKind.API

    def state(self, now: datetime) -> str:
        """active, expired or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def is_well_formed_token(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


def token_prefix(token: str) -> str:
    """The public prefix of a well-formed token: the characters right after ``sk_``."""
    return token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + TOKEN_PREFIX_CHARS]


def normalize_prefix(prefix: str) -> str | None:
    """A prefix as a person may give it (``sk_AbCd1234``, ``AbCd1234``, or the whole token), or
    None when it cannot be one."""
    text = prefix.strip()
    if is_well_formed_token(text):
        return token_prefix(text)
    text = text.removeprefix(TOKEN_PREFIX)
    return text if _PREFIX.fullmatch(text) else None
