"""`suanli submit --secret-env`: values from the shell or the command line, added to every job as
secrets; a wrong option is named by its place, never by what it holds."""

from __future__ import annotations

import pytest

from suanli.adapters.cli.secret_env import secret_values, with_secrets
from suanli.domain.errors import InvalidSpec
from suanli.domain.jobs import JobSpec
from suanli.domain.limits import MAX_ENV_BYTES

SECRET = "hf_secret_value_42"


def test_a_name_takes_its_value_from_the_shell_and_name_value_gives_it() -> None:
    environ = {"HF_TOKEN": SECRET}
    assert secret_values(["HF_TOKEN", "DB_PASSWORD=pw=with=equals"], environ) == {
        "HF_TOKEN": SECRET,
        "DB_PASSWORD": "pw=with=equals",
    }
    assert secret_values(["A=1", "A=2"], {}) == {"A": "2"}  # the last one wins
    assert secret_values([], environ) == {}


@pytest.mark.parametrize("option", [SECRET, f"{SECRET}-x", f"-{SECRET}=v", "=value"])
def test_an_option_that_names_nothing_is_refused_by_its_place(option: str) -> None:
    environ = {} if option == SECRET else {SECRET: "x"}
    with pytest.raises(InvalidSpec) as refused:
        secret_values(["OK=1", option], environ)
    assert "--secret-env #2" in refused.value.message and SECRET not in refused.value.message


def test_every_job_gets_the_secrets_added_to_its_own() -> None:
    spec = JobSpec(name="j", command="true", env={"MODE": "x", "OLD": "o"}, secret_env=("OLD",))
    added = with_secrets(spec, {"HF_TOKEN": SECRET})
    assert added.env == {"MODE": "x", "OLD": "o", "HF_TOKEN": SECRET}
    assert added.secret_env == ("OLD", "HF_TOKEN")
    assert with_secrets(spec, {}) is spec


def test_secrets_that_overflow_the_environment_are_refused_without_their_values() -> None:
    spec = JobSpec(name="j", command="true")
    big = {f"S{i}": SECRET * 700 for i in range(8)}
    with pytest.raises(InvalidSpec) as refused:
        with_secrets(spec, big)
    assert str(MAX_ENV_BYTES) in refused.value.message and SECRET not in refused.value.message
