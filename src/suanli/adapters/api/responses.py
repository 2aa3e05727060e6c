"""Responses serialized once, by pydantic's JSON encoder, with no second validation pass."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from suanli.adapters.api.problems import PROBLEM_JSON
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.protocol.rest import Problem

JSON = "application/json"


def json_response(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type=JSON)


def problem_docs(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the problem responses a route can return."""
    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}}} for s in statuses}


def require_json(request: Request) -> None:
    """For routes that read their own body: refuse anything but JSON, as FastAPI would."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != JSON and not (media.startswith("application/") and media.endswith("+json")):
        raise HTTPException(415, "send the body as JSON with the header Content-Type: application/json")


def json_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a route that parses its own JSON body as ``model`` (see ``document_body_models``)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": ref}}}}


def document_body_models(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Adds the schemas of self-parsed bodies to the OpenAPI components that ``json_body_doc`` names."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = default_openapi()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(name, definition)
            schemas[model.__name__] = schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _replace_patterns(node: Any, replacements: dict[str, str]) -> None:
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern in replacements:
            node["pattern"] = replacements[pattern]
        for value in node.values():
            _replace_patterns(value, replacements)
    elif isinstance(node, list):
        for value in node:
            _replace_patterns(value, replacements)


def state_server_limits(app: FastAPI, catalog: AcceleratorCatalog, max_jobs_per_request: int) -> None:
    """Makes the OpenAPI document state this server's own limits where they come from settings:
    the accelerator models of its catalog (the models' schemas name the built-in ones) and the
    jobs a batch may hold."""
    builtin = AcceleratorCatalog()
    replacements = {
        builtin.name_pattern(): catalog.name_pattern(),
        builtin.request_pattern(): catalog.request_pattern(),
    }
    previous = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = previous()
        _replace_patterns(document, replacements)
        batch = document.get("components", {}).get("schemas", {}).get("JobBatchIn", {})
        jobs = batch.get("properties", {}).get("jobs")
        if isinstance(jobs, dict):
            jobs["maxItems"] = max_jobs_per_request
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
