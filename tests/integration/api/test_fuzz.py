"""Generated requests from the OpenAPI document: whatever a client sends, the server answers
with a status it documents, and never with a 5xx."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from suanli.adapters.api import create_app
from suanli.composition import build_container
from suanli.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore")


# Built at import: schemathesis makes the test cases from the schema at collection time.
_home = Path(tempfile.mkdtemp(prefix="suanli-fuzz-"))
atexit.register(shutil.rmtree, _home, True)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(build_container(Settings(home=_home))))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
