"""Secret environment values: declared by name in ``secret_env``, kept in the spec for the job,
shown as '***' by ``redacted``, and never echoed by an error, whatever was typed where."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from suanli.domain.jobs import SECRET_SHOWN_AS, JobSpec
from suanli.domain.stored_specs import stored_spec

SECRET = "hf_Zq3-not-for-your-eyes"


def spec(**extra: object) -> JobSpec:
    return JobSpec.model_validate({"name": "train", "command": "python train.py", **extra})


def test_a_secret_is_kept_for_the_job_and_shown_redacted() -> None:
    job = spec(env={"HF_TOKEN": SECRET, "MODE": "fast"}, secret_env=["HF_TOKEN"])
    assert job.env == {"HF_TOKEN": SECRET, "MODE": "fast"}  # what the center's agent is given
    shown = job.redacted()
    assert shown.env == {"HF_TOKEN": SECRET_SHOWN_AS, "MODE": "fast"}
    assert shown.secret_env == ("HF_TOKEN",)
    assert SECRET not in shown.model_dump_json()
    assert job.env["HF_TOKEN"] == SECRET  # redacting made a copy


def test_a_spec_without_secrets_is_shown_as_it_is() -> None:
    job = spec(env={"MODE": "fast"})
    assert job.secret_env == () and job.redacted() is job


def test_each_name_counts_once_in_the_order_given() -> None:
    job = spec(env={"A": "1", "B": "2"}, secret_env=["B", "A", "B"])
    assert job.secret_env == ("B", "A")


@pytest.mark.parametrize(
    "secret_env",
    [
        [SECRET],  # a value pasted where a name belongs, which env does not set
        ["HF_TOKEN", SECRET],
        [f"{SECRET}=x"],  # not a name at all
        [SECRET + "\x00"],
    ],
)
def test_a_wrong_item_is_refused_by_its_place_never_by_what_it_holds(secret_env: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        spec(env={"HF_TOKEN": "x"}, secret_env=secret_env)
    for error in refused.value.errors():
        assert SECRET not in str(error["msg"]) and SECRET not in json.dumps(error["loc"])
        assert error["loc"][0] == "secret_env"


def test_the_refusal_says_what_to_do() -> None:
    with pytest.raises(ValidationError) as refused:
        spec(env={"A": "1"}, secret_env=["A", "B"])
    (error,) = refused.value.errors()
    assert error["loc"] == ("secret_env",)
    assert "item 1 names a variable that env does not set" in error["msg"]


def test_a_stored_spec_keeps_its_secrets_hidden_even_when_todays_limits_refuse_it() -> None:
    stored = json.dumps({"name": "old", "command": "true", "env": {"K": SECRET}, "secret_env": ["K"], "nodes": 10**9})
    loaded = stored_spec(stored)
    assert getattr(loaded, "problem", "")  # unchecked: it breaks a limit
    assert loaded.redacted().env == {"K": SECRET_SHOWN_AS}


def test_a_stored_secret_list_that_cannot_be_read_hides_every_value() -> None:
    stored = json.dumps({"name": "old", "command": "true", "env": {"K": SECRET, "M": "m"}, "secret_env": "K"})
    assert stored_spec(stored).redacted().env == {"K": SECRET_SHOWN_AS, "M": SECRET_SHOWN_AS}
