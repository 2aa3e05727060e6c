"""Checks on what a request carries outside its body, for every route at once.

Bodies are checked by their models (every string in them is a ``domain.limits.Text``). Query and
path parameters are checked here, by one dependency of the whole app, so that no route can forget:
a NUL (U+0000) in any of them is refused with 422 naming the parameter, on every database, before
the route runs (PostgreSQL cannot even compare a text with one).
"""

from __future__ import annotations

from fastapi import Request
from pydantic_core import PydanticCustomError

from suanli.domain.errors import InvalidSpec
from suanli.domain.limits import check_text


class InvalidParameter(InvalidSpec):
    title = "Invalid request"


def _check(kind: str, name: str, value: str) -> None:
    try:
        check_text(value)
    except PydanticCustomError as error:
        shown = name if name.isprintable() else repr(name)
        raise InvalidParameter(f"the {kind} parameter {shown}: {error.message()}", field=shown) from None


async def refuse_bad_text(request: Request) -> None:
    """A FastAPI dependency of the app: every path and query parameter must be text a database
    and a program can take."""
    for name, value in request.path_params.items():
        if isinstance(value, str):
            _check("path", name, value)
    for name, value in request.query_params.multi_items():
        _check("query", name, name)
        _check("query", name, value)
