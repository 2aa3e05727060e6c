"""Whose jobs a principal may see (``job.read``) and act on (``job.cancel``, ``job.logs``).

A platform admin reaches every job. Anyone else reaches its own organization's jobs, when one of
its roles but center-operator grants ``job.read``; and a center operator reaches the jobs placed
on the centers its organization owns, now or in an earlier attempt, whosever they are, only to
read them (``permissions.POLICY`` gives it neither ``job.cancel`` nor ``job.logs``). A principal
holding both kinds of role reaches both sets. The API shows no one a secret environment value
(``JobSpec.redacted``), whoever asks.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanli.domain.identity import Principal, Role
from suanli.domain.permissions import POLICY, Permission


@dataclass(frozen=True, slots=True)
class JobReach:
    """A set of jobs: every job, or those of ``organization`` and those placed on the centers
    ``centers_of`` owns (either, both, or, with neither, none)."""

    everything: bool = False
    organization: str | None = None  # the jobs this organization submitted
    centers_of: str | None = None  # the jobs placed, now or before, on the centers it owns


EVERY_JOB = JobReach(everything=True)


def owned_jobs(principal: Principal) -> JobReach:
    """The jobs a principal may change or read the output of: its organization's (a platform
    admin's: every job)."""
    if Role.PLATFORM_ADMIN in principal.roles:
        return EVERY_JOB
    return JobReach(organization=principal.organization)


def readable_jobs(principal: Principal) -> JobReach:
    """The jobs a principal may see: its organization's, if a role other than center-operator
    lets it read jobs; those placed on its organization's centers, if it is a center operator."""
    if Role.PLATFORM_ADMIN in principal.roles:
        return EVERY_JOB
    own = any(Permission.JOB_READ in POLICY[role] for role in principal.roles - {Role.CENTER_OPERATOR})
    return JobReach(
        organization=principal.organization if own else None,
        centers_of=principal.organization if Role.CENTER_OPERATOR in principal.roles else None,
    )
