"""Specs read back from storage that today's limits refuse.

A job stored under an earlier release's looser limits (a count, a size, a type that is refused
now) must not make every read of it fail, nor stop a scheduling cycle. Its spec comes back as it
was stored, unchecked, and says what is wrong with it: the job can still be shown, listed and
cancelled, and the scheduler fails it alone with that reason.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import PrivateAttr, ValidationError

from suanli.domain.errors import InvalidSpec, invalid
from suanli.domain.jobs import AcceleratorRequest, Constraints, JobSpec, Resources


class UncheckedJobSpec(JobSpec):
    """A stored spec that breaks today's limits; ``problem`` says which, field by field."""

    _problem: str = PrivateAttr(default="")

    @property
    def problem(self) -> str:
        return self._problem


def stored_spec(text: str) -> JobSpec:
    """The spec stored as JSON ``text``: checked as usual, or, when today's limits refuse it, as
    it was (an UncheckedJobSpec)."""
    try:
        return JobSpec.model_validate_json(text)
    except ValidationError as error:
        return unchecked_spec(_json_object(text), invalid(error, "its spec breaks a limit", InvalidSpec).message)


def _json_object(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return data if isinstance(data, dict) else {}


def unchecked_spec(data: dict[str, Any], problem: str) -> UncheckedJobSpec:
    """``data`` as a spec without any check (nested parts too), carrying ``problem``."""
    resources = dict(data.get("resources") or {})
    accelerators = resources.get("accelerators") or ()
    if isinstance(accelerators, str | dict):
        accelerators = [accelerators]
    resources["accelerators"] = tuple(
        AcceleratorRequest.model_construct(**a) if isinstance(a, dict) else AcceleratorRequest.model_construct(model=a)
        for a in accelerators
    )
    fields = {**data, "resources": Resources.model_construct(**resources)}
    fields["constraints"] = Constraints.model_construct(**dict(data.get("constraints") or {}))
    if "entrypoint" in fields:
        fields["command"] = fields.pop("entrypoint")
    if isinstance(fields.get("command"), list):
        fields["command"] = tuple(fields["command"])
    fields["secret_env"] = _secret_names(data)
    spec = UncheckedJobSpec.model_construct(**fields)
    spec._problem = problem
    return spec


def _secret_names(data: dict[str, Any]) -> tuple[str, ...]:
    """The variables whose values are never shown: as stored, or every one of env when the stored
    list cannot be read (better to hide too much than to show a secret)."""
    names = data.get("secret_env") or []
    if isinstance(names, list) and all(isinstance(name, str) for name in names):
        return tuple(names)
    env = data.get("env")
    return tuple(str(name) for name in env) if isinstance(env, dict) else ()
