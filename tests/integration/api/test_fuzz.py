"""Generated requests from the OpenAPI document, on SQLite and on PostgreSQL: whatever a client
sends, the server answers with a status the document names for the operation, in the media type
and shape it states; never a 5xx; data the schema forbids is refused; data it allows is taken.

Schemathesis runs its coverage phase (values at and just past every limit the schema states,
NUL included) and a fuzzing phase of positive and negative examples. Both databases get the same
cases, so a difference between them (a NUL PostgreSQL cannot store) fails here.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from starlette.types import Receive, Scope, Send

from suanli.adapters.api import create_app
from suanli.composition import build_container
from suanli.domain.centers import CenterSpec
from suanli.settings import Settings
from tests.integration.storage.conftest import POSTGRES_URL, _admin, postgres_unreachable
from tests.signed_in import admin_token

pytestmark = pytest.mark.filterwarnings("ignore")

# Rules that relate one field to another (or to the clock), which JSON Schema cannot state: a
# schema-valid request may break one of them, and is then refused with 422 saying which.
RULES_ACROSS_FIELDS = (
    "pool names must be unique within a center",  # items of a list, by one field
    "a CPU pool's accelerators_per_node is its cores",  # accelerators_per_node <= cpus_per_node
    "share_gpus is for GPU pools",  # share_gpus with accelerator CPU
    "a pool that shares GPUs holds at most",  # nodes x accelerators_per_node
    "each accelerator model may appear once",  # alternatives, after names are resolved
    "two alternatives name the same accelerator model",
    "a duration must be positive",  # "0h": the pattern cannot weigh the number
    "Input should be less than or equal to 31536000",  # "999d": the same, for the maximum
    "has already passed",  # a deadline against the clock
    "would end after the deadline",  # a deadline against the clock and time_limit
    "bytes; together they may take at most",  # a command's arguments together
    "the environment takes",  # NAME=value together
    "names a variable that env does not set",  # secret_env's names against env's
    "no registered pool could ever run this job",  # if_unfit=refuse: the job against the fleet
)


@schemathesis.check
def schema_valid_data_is_accepted(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """positive_data_acceptance, except for a 422 that names only rules the schema cannot state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    status = response.status_code
    if status < 400 or status in (401, 404, 409):  # no agent token; no such job or center; name taken
        return None
    if status == 422:
        errors = response.json().get("errors") or []
        if errors and all(any(rule in e["message"] for rule in RULES_ACROSS_FIELDS) for e in errors):
            return None
    raise AssertionError(f"a request the schema allows was refused with {status}: {response.text[:1000]}")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    schema_valid_data_is_accepted,
]
EDGES = ["\u0000", "nul\u0000inside", "x" * 70_000]
# The schema states the batch limit of the server it describes: a small one keeps the coverage
# phase's "one job too many" batch small.
MAX_BATCH = 3


def _home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="suanli-fuzz-"))
    atexit.register(shutil.rmtree, home, True)
    return home


class WithoutLifespan:
    """The app without its lifespan: schemathesis opens a client (and so a lifespan) per request,
    which would start and stop the scheduler loop and close the database each time. As in the
    other API tests, no scheduling cycle runs on its own."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            if message["type"] == "lifespan.shutdown":
                return


@dataclass
class Target:
    """A server on one database, with a registered center whose agent token the agent
    operations carry, and its first admin's token for every other operation (without them,
    every request would stop at 401)."""

    app: WithoutLifespan
    agent_token: str
    admin_token: str

    def headers(self, case: schemathesis.Case) -> dict[str, str]:
        token = self.agent_token if case.path.startswith("/api/v1/agent/") else self.admin_token
        return {"Authorization": f"Bearer {token}"}


def _target(settings: Settings) -> Target:
    container = build_container(settings)
    pool = {"name": "gpu", "accelerator": "A100", "accelerators_per_node": 8, "cpus_per_node": 64}
    pool |= {"memory_gb_per_node": 512, "nodes": 2, "price_per_accelerator_hour": 10}
    container.centers.add(
        CenterSpec.model_validate({"name": "fuzz", "owner": "o", "kind": "ai", "region": "r", "pools": [pool]})
    )
    token = container.agents.mint_token("fuzz")
    return Target(WithoutLifespan(create_app(container)), token, admin_token(container))


def _postgres() -> Target | None:
    """A server on a fresh PostgreSQL schema, dropped at exit; None when the server is away."""
    if postgres_unreachable() is not None:
        return None
    schema = f"fuzz_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE SCHEMA "{schema}"')
    atexit.register(_admin, f'DROP SCHEMA "{schema}" CASCADE')
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    return _target(Settings(home=_home(), database_url=url, max_jobs_per_request=MAX_BATCH))


def body_strings(document: dict[str, Any]) -> set[str]:
    """Every string field of every request body, as a schemathesis parameter path
    (``body.constraints.regions[*]``); the values of mappings (env, labels) have no path."""
    schemas = document["components"]["schemas"]
    found: set[str] = set()

    def walk(node: Any, path: str, depth: int = 0) -> None:
        if not isinstance(node, dict) or depth > 8:
            return
        if "$ref" in node:
            walk(schemas[node["$ref"].rsplit("/", 1)[-1]], path, depth + 1)
            return
        for alternative in node.get("anyOf", []):
            walk(alternative, path, depth + 1)
        if node.get("type") == "string" and path != "body":
            found.add(path)
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[*]", depth + 1)
        for name, value in node.get("properties", {}).items():
            walk(value, f"{path}.{name}", depth + 1)

    for operations in document["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation:
                walk(operation["requestBody"]["content"]["application/json"]["schema"], "body")
    return found


def config(document: dict[str, Any]) -> SchemathesisConfig:
    edges = {"dictionary": "edges", "probability": 0.2}
    return SchemathesisConfig.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": 4,
                # Every parameter and body string may be one of EDGES, in the mode where it is
                # wrong for the schema (a NUL where the schema forbids one must be refused) and in
                # the one where it is right (a string the schema lets hold a NUL or any length
                # must be taken: on PostgreSQL a NUL was a 500).
                "dictionaries": {"string": edges},
            },
            "dictionaries": {"edges": {"values": EDGES}},
            "parameters": {path: edges for path in sorted(body_strings(document))},
            # A batch holds job specs, which POST /jobs covers field by field, a hello holds
            # pools, and so does a center, which PUT /centers/{name}/pools covers: their own
            # coverage phase would repeat those cases, at some seconds each on this machine.
            "operations": [
                {
                    "include-path-regex": "^/api/v1/(jobs/batch|agent/hello|centers)$",
                    "include-method": "POST",
                    "phases": {"coverage": {"enabled": False}},
                }
            ],
            # 413: a body or batch past the server's size limits, which the schema states too.
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": ["400", "401", "404", "405", "409", "413", "415", "422"]
                }
            },
        }
    )


# Built at import: schemathesis makes the cases from the schema at collection time, once; each
# case then goes to both databases in turn.
SQLITE = _target(Settings(home=_home(), max_jobs_per_request=MAX_BATCH))
POSTGRES = _postgres()
schema = schemathesis.openapi.from_asgi("/openapi.json", SQLITE.app, config=config(SQLITE.app.app.openapi()))


def long_poll(query: dict[str, Any] | None) -> bool:
    """Whether ``query`` asks the assignments long poll to wait a valid number of seconds."""
    wait = (query or {}).get("wait")
    if isinstance(wait, bool) or not isinstance(wait, int | float | str):
        return False
    try:
        return 0 < float(wait) <= 60
    except ValueError:
        return False


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_on_both_databases(case: schemathesis.Case) -> None:
    if long_poll(case.query):
        case.query["wait"] = 0  # a valid long poll, without waiting up to a minute for work
    on_sqlite = case.call_and_validate(checks=CHECKS, headers=SQLITE.headers(case))
    if POSTGRES is None:
        if os.environ.get("SUANLI_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{postgres_unreachable()}; SUANLI_REQUIRE_POSTGRES=1 requires it")
        return  # PostgreSQL is away: SQLite alone (the API tests of conftest.py skip it likewise)
    on_postgres = case.call_and_validate(checks=CHECKS, app=POSTGRES.app, headers=POSTGRES.headers(case))
    # Validation does not depend on the database: the same input is refused the same way.
    if 422 in (on_sqlite.status_code, on_postgres.status_code):
        assert on_sqlite.status_code == on_postgres.status_code
        assert on_sqlite.json() == on_postgres.json()
