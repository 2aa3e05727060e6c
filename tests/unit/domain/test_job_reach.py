"""Whose jobs each role reaches: its organization's, those on its organization's centers (a
center operator's, to read only), both for a principal with both kinds of role, all for a
platform admin."""

from __future__ import annotations

import pytest

from suanli.domain.identity import FULL_SCOPES, Principal, PrincipalKind, Role
from suanli.domain.job_reach import EVERY_JOB, JobReach, owned_jobs, readable_jobs


def principal(*roles: Role, organization: str = "acme") -> Principal:
    return Principal(
        name="p",
        kind=PrincipalKind.USER,
        organization=organization,
        roles=frozenset(roles),
        scopes=FULL_SCOPES,
        token_prefix="abcdefgh",
    )


@pytest.mark.parametrize(
    ("roles", "readable"),
    [
        ((Role.PLATFORM_ADMIN,), EVERY_JOB),
        ((Role.PLATFORM_ADMIN, Role.CENTER_OPERATOR), EVERY_JOB),
        ((Role.ORG_ADMIN,), JobReach(organization="acme")),
        ((Role.MEMBER,), JobReach(organization="acme")),
        ((Role.VIEWER,), JobReach(organization="acme")),
        ((Role.CENTER_OPERATOR,), JobReach(centers_of="acme")),
        ((Role.CENTER_OPERATOR, Role.AUDITOR), JobReach(centers_of="acme")),
        ((Role.CENTER_OPERATOR, Role.MEMBER), JobReach(organization="acme", centers_of="acme")),
        ((Role.CENTER_OPERATOR, Role.VIEWER), JobReach(organization="acme", centers_of="acme")),
        ((Role.AUDITOR,), JobReach()),  # no job.read at all: the route refuses it before
    ],
)
def test_who_reads_which_jobs(roles: tuple[Role, ...], readable: JobReach) -> None:
    assert readable_jobs(principal(*roles)) == readable


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.PLATFORM_ADMIN])
def test_only_its_own_organizations_jobs_are_changed_or_their_output_read(role: Role) -> None:
    assert owned_jobs(principal(role, Role.CENTER_OPERATOR)) == JobReach(organization="acme")
    assert owned_jobs(principal(Role.PLATFORM_ADMIN, role)) == EVERY_JOB


def test_a_reach_of_neither_kind_is_empty_not_everything() -> None:
    assert not JobReach().everything
