"""`suanli submit --secret-env`: secret environment values that stay out of the job file.

``--secret-env NAME`` takes the value from the environment of the shell that runs `suanli submit`
(nothing of it shows in the command line, in `ps` or in the shell's history); ``--secret-env
NAME=VALUE`` gives it on the command line. Either way each job of the file gets the variable in
its ``env`` and its name in ``secret_env``. No message here repeats what was given: a value typed
where a name was meant is still a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from suanli.domain.errors import InvalidSpec, invalid
from suanli.domain.job_fields import ENV_NAME_PATTERN
from suanli.domain.jobs import JobSpec
from suanli.domain.limits import MAX_ENV_NAME_CHARS

OPTION = "--secret-env"
_NAME = re.compile(ENV_NAME_PATTERN)


def secret_values(options: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """NAME -> value for each ``NAME=VALUE`` or ``NAME`` (its value from ``environ``); the last
    of a name given twice wins. Raises InvalidSpec naming the option by its position."""
    values: dict[str, str] = {}
    for position, option in enumerate(options, start=1):
        name, has_value, value = option.partition("=")
        where = f"{OPTION} #{position}"
        if len(name) > MAX_ENV_NAME_CHARS or not _NAME.match(name):
            raise InvalidSpec(
                f"{where} does not start with a variable name ([A-Za-z_][A-Za-z0-9_]*, at most "
                f"{MAX_ENV_NAME_CHARS} characters): give NAME, to take its value from this shell's "
                "environment, or NAME=VALUE",
                field=OPTION,
            )
        if not has_value:
            if name not in environ:
                raise InvalidSpec(
                    f"{where} names a variable this shell's environment does not set: export it first, "
                    "or give NAME=VALUE",
                    field=OPTION,
                )
            value = environ[name]
        values[name] = value
    return values


def with_secrets(spec: JobSpec, values: Mapping[str, str]) -> JobSpec:
    """``spec`` with each of ``values`` in its env, named in its secret_env; checked again, so
    that the limits on the environment hold with them. Raises InvalidSpec."""
    if not values:
        return spec
    data = spec.model_dump(exclude_unset=True)
    data["env"] = {**spec.env, **values}
    data["secret_env"] = [*spec.secret_env, *values]
    try:
        return JobSpec.model_validate(data)
    except ValidationError as error:
        raise invalid(error, f"job {spec.name!r} with {OPTION}", InvalidSpec) from None
