"""Responses serialized once, by pydantic's JSON encoder, with no second validation pass."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response

from suanli.adapters.api.problems import PROBLEM_JSON
from suanli.adapters.api.schemas import Problem

JSON = "application/json"


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type=JSON)


def problem_docs(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the problem responses a route can return."""
    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}}} for s in statuses}
