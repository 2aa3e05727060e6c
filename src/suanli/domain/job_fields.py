"""The JSON-facing types of a job spec's fields: what each accepts, up to which limit, and
what its JSON schema states (the two agree; tests/integration/api/test_conformance.py checks).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from suanli.domain.durations import DURATION_PATTERN, parse_duration
from suanli.domain.limits import (
    MAX_ARGUMENT_CHARS,
    MAX_ARGUMENTS,
    MAX_COMMAND_BYTES,
    MAX_ENV_BYTES,
    MAX_ENV_NAME_CHARS,
    MAX_ENV_VALUE_CHARS,
    MAX_LABEL_KEY_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_NAME_CHARS,
    MAX_TIME_LIMIT_S,
    MAX_WORKDIR_CHARS,
    NO_NUL_PATTERN,
    NoNul,
    check_text,
    utf8_size,
)

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Text with something besides white space in it (and no NUL): a command string, a program name.
NOT_BLANK_PATTERN = r"^[^\x00]*[^\x00\s][^\x00]*$"


def _seconds_json(value: float) -> float:
    return value


Seconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(gt=0, le=MAX_TIME_LIMIT_S),
    PlainSerializer(_seconds_json, return_type=float),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_TIME_LIMIT_S},
                {"type": "string", "pattern": DURATION_PATTERN, "description": "e.g. 90m, 6h, 1d12h"},
            ]
        }
    ),
]


def _command(value: Any) -> str | tuple[str, ...]:
    """A string run by the shell, or a list of arguments run as is; each small enough to start."""
    if isinstance(value, str):
        check_text(value)
        if not value.strip():
            raise PydanticCustomError("command_empty", "the command must not be empty")
        if len(value) > MAX_ARGUMENT_CHARS:
            raise PydanticCustomError(
                "command_too_long", "a command string holds at most {limit} characters", {"limit": MAX_ARGUMENT_CHARS}
            )
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(a, str) for a in value):
        raise PydanticCustomError("command_type", "give a list of strings, or one string for the shell")
    if not value or not value[0].strip():
        raise PydanticCustomError("command_empty", "the command must not be empty: name a program first")
    if len(value) > MAX_ARGUMENTS:
        raise PydanticCustomError(
            "command_too_long", "a command holds at most {limit} arguments", {"limit": MAX_ARGUMENTS}
        )
    for i, argument in enumerate(value):
        try:
            check_text(argument)
        except PydanticCustomError as error:
            raise PydanticCustomError(error.type, f"argument {i}: {error.message()}") from None
        if len(argument) > MAX_ARGUMENT_CHARS:
            raise PydanticCustomError(
                "command_too_long",
                "argument {index} holds {size} characters; one argument holds at most {limit}",
                {"index": i, "size": len(argument), "limit": MAX_ARGUMENT_CHARS},
            )
    if utf8_size(value) > MAX_COMMAND_BYTES:
        raise PydanticCustomError(
            "command_too_long",
            "the arguments take {size} bytes; together they may take at most {limit} (UTF-8, one NUL each)",
            {"size": utf8_size(value), "limit": MAX_COMMAND_BYTES},
        )
    return tuple(value)


_ARGUMENT = {"type": "string", "maxLength": MAX_ARGUMENT_CHARS, "pattern": NO_NUL_PATTERN}
_PROGRAM = {"type": "string", "minLength": 1, "maxLength": MAX_ARGUMENT_CHARS, "pattern": NOT_BLANK_PATTERN}


def _command_json(value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    return value


Command = Annotated[
    str | tuple[str, ...],
    PlainValidator(_command),
    PlainSerializer(_command_json, return_type=Any),  # the union's own serializer warns on a tuple
    WithJsonSchema(
        {
            "anyOf": [
                _PROGRAM,
                {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_ARGUMENTS,
                    "prefixItems": [_PROGRAM],
                    "items": _ARGUMENT,
                },
            ],
            "description": (
                f"a list of arguments run as is, or a string run by the shell; at most {MAX_COMMAND_BYTES} "
                "bytes of arguments in all"
            ),
        }
    ),
]

ENV_SCHEMA = {
    "propertyNames": {"pattern": ENV_NAME_PATTERN, "maxLength": MAX_ENV_NAME_CHARS},
    "description": f"environment variables; at most {MAX_ENV_BYTES} bytes of NAME=value in all",
}
LABELS_SCHEMA = {
    "propertyNames": {"minLength": 1, "maxLength": MAX_LABEL_KEY_CHARS, "pattern": NO_NUL_PATTERN},
}


def mapping_schema(extra: dict[str, Any]) -> Any:
    """The JSON schema of a mapping whose keys have rules: ``propertyNames`` states them (pydantic
    writes ``patternProperties``, which lets every other key through)."""

    def update(schema: dict[str, Any]) -> None:
        for value in schema.pop("patternProperties", {}).values():
            schema["additionalProperties"] = value
        schema.update(extra)

    return update


# Constraints come before NoNul in each Annotated: pydantic then checks them on the string itself
# (with its usual messages), and the JSON schema states them.
JobName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), NoNul()]
Workdir = Annotated[str, Field(max_length=MAX_WORKDIR_CHARS), NoNul()]
EnvValue = Annotated[str, Field(max_length=MAX_ENV_VALUE_CHARS), NoNul()]
EnvName = Annotated[str, Field(min_length=1, max_length=MAX_ENV_NAME_CHARS, pattern=ENV_NAME_PATTERN)]
LabelKey = Annotated[str, Field(min_length=1, max_length=MAX_LABEL_KEY_CHARS), NoNul()]
LabelValue = Annotated[str, Field(max_length=MAX_LABEL_VALUE_CHARS), NoNul()]
