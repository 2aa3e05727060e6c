"""The limits on what a job or a center may declare: one source of truth for each.

Validation (every way in: REST, SDK, files), the scheduler's request builder and the executors
all read these constants, so a value accepted at submission is one the scheduler can build a
request for and an executor can start. docs/job-spec.md lists them for people.

Strings are counted in characters (as JSON Schema's ``maxLength`` counts them); those that reach
``execve`` are capped so that even at 4 bytes a character they stay well below Linux's
MAX_ARG_STRLEN (131,072 bytes per argument or ``NAME=value``), and their totals are counted in
UTF-8 bytes, well below ARG_MAX (2 MiB by default) with room for what the executor adds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# -- numbers in JSON --------------------------------------------------------------------------------
# The largest integer a JSON number carries exactly (RFC 8259, section 6): every id and offset an API
# takes stays below it, so a client, a JSON parser and a schema check all read the same number
# (near 2**63 a float cannot tell 9223372036854775807 from ...5999). Ids are BIGINTs and never get near.
MAX_JSON_INT = 2**53 - 1
MAX_ID = MAX_JSON_INT
MAX_OFFSET = MAX_JSON_INT  # bytes into a log

# -- sizes of nodes, gangs and pools ---------------------------------------------------------------
MAX_ACCELERATORS_PER_NODE = 1024  # an accelerator request's count; a pool's accelerators_per_node;
#                                   a CPU-only job's cores (it is placed by cores in a CPU pool)
MAX_CPUS_PER_NODE = 100_000  # a job's cpus (with accelerators); a pool's cpus_per_node
MAX_MEMORY_GB_PER_NODE = 1_000_000.0
MAX_NODES_PER_JOB = 4096  # gang size
MAX_NODES_PER_POOL = 1_000_000
MAX_ALTERNATIVES = 16  # accelerator alternatives in one job
MAX_POOLS_PER_CENTER = 256
MAX_SHARED_GPUS_PER_POOL = 1_048_576  # a pool that shares GPUs is tracked GPU by GPU

# -- money, carbon, time ---------------------------------------------------------------------------
MAX_PRICE_PER_ACCELERATOR_HOUR = 100_000.0  # CNY; today's dearest accelerator costs about 30
MAX_JOB_PRICE_PER_HOUR = MAX_PRICE_PER_ACCELERATOR_HOUR * MAX_ACCELERATORS_PER_NODE * MAX_NODES_PER_JOB
MAX_CARBON_INTENSITY = 10_000.0  # gCO2/kWh; coal is about 1,000
MAX_TIME_LIMIT_S = 365 * 86400  # a year; for no limit, leave time_limit out
MIN_PRIORITY, MAX_PRIORITY = -1000, 1000
MAX_RETRIES = 100
# A deadline is written in one of these years (in its own zone): its epoch seconds, and a time
# limit added to them, then always convert back to a date (Python's datetime ends at year 9999).
EARLIEST_DEADLINE_YEAR, LATEST_DEADLINE_YEAR = 1970, 8999
EARLIEST_DEADLINE = datetime(EARLIEST_DEADLINE_YEAR, 1, 1, tzinfo=UTC)  # the first accepted, in UTC
LATEST_DEADLINE = datetime(LATEST_DEADLINE_YEAR + 1, 1, 1, tzinfo=UTC)  # the first refused, in UTC
DEADLINE_PATTERN = r"^(?:19[7-9][0-9]|[2-8][0-9]{3})-"

# -- text -------------------------------------------------------------------------------------------
MAX_NAME_CHARS = 200  # a job's name, a center's owner
MAX_ARGUMENT_CHARS = 16_384  # one argument of a command, or a command string (4 bytes/char: 64 KiB)
MAX_ARGUMENTS = 4096
MAX_COMMAND_BYTES = 65_536  # a command's arguments together, UTF-8, each with its terminating NUL
MAX_ENV_NAME_CHARS = 256
MAX_ENV_VALUE_CHARS = 16_384
MAX_ENV_VARIABLES = 1000
MAX_ENV_BYTES = 65_536  # every NAME=value together, UTF-8, each with its terminating NUL
MAX_WORKDIR_CHARS = 1000  # x 4 bytes stays under PATH_MAX (4,096 bytes)
MAX_LABELS = 100
MAX_LABEL_KEY_CHARS = 63
MAX_LABEL_VALUE_CHARS = 256
MAX_REGION_CHARS = 100
MAX_MODEL_CHARS = 64  # an accelerator model's name
MAX_CONSTRAINT_REGIONS = 100
MAX_CONSTRAINT_CENTERS = 1000

NO_NUL_PATTERN = r"^[^\x00]*$"


def check_text(value: str) -> str:
    """``value`` if a database and a program can take it; raises PydanticCustomError. (A lone
    surrogate, which is not text either, pydantic refuses by itself in every ``str``.)"""
    if "\x00" in value:
        raise PydanticCustomError(
            "nul_character", "must not contain the NUL character (U+0000, '\\u0000' in JSON); remove it"
        )
    return value


class NoNul:
    """Refuses text holding U+0000, which PostgreSQL cannot store and no program takes in an
    argument, and says so in the JSON schema (a ``pattern``). Every string a request can hold
    carries it (``Text``, or ``Annotated[str, Field(...), NoNul()]`` with limits of its own), so
    one check covers them all, nested ones and mapping keys included."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(check_text, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler.resolve_ref_schema(handler(schema))
        json_schema.setdefault("pattern", NO_NUL_PATTERN)
        return json_schema


def utf8_size(values: tuple[str, ...] | list[str]) -> int:
    """Bytes ``values`` take in an ``execve`` argument or environment array (each NUL-terminated)."""
    return sum(len(v.encode("utf-8")) + 1 for v in values)


# -- JSON types -------------------------------------------------------------------------------------
# Pydantic's lax mode reads "8" or true as the number 8 or 1, and 0 or "yes" as a flag; the JSON
# schema says a number is a number and a flag is a flag, so the request is refused as the schema
# says. (Strict mode would do it too, but would also refuse numpy's integers from Python callers.)


def _number(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise PydanticCustomError("number_expected", "give a number, not {given}", {"given": repr(value)})
    return value


def _flag(value: Any) -> Any:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        raise PydanticCustomError("flag_expected", "give true or false, not {given}", {"given": repr(value)})
    return value


NUMBER_ONLY = BeforeValidator(_number)
Int = Annotated[int, NUMBER_ONLY]
Float = Annotated[float, NUMBER_ONLY]  # with limits in a union, write Annotated[float, Field(...), NUMBER_ONLY]
Flag = Annotated[bool, BeforeValidator(_flag)]
