"""/api/v1/centers/{name}/rates: publish, list and withdraw a center's prices (docs/pricing.md)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from suanli.adapters.api.auth import Asker, organization_of
from suanli.adapters.api.responses import json_body_doc, json_response, problem_docs, require_json
from suanli.adapters.api.routes.audit import checked_moment_query, parse_moment
from suanli.adapters.api.routes.centers import CenterName
from suanli.domain.centers import NAME_PATTERN
from suanli.domain.errors import InvalidSpec
from suanli.domain.pricing import Rate, Standing
from suanli.protocol.pricing import RateIn, RateListOut, RateOut, RatePublishedOut
from suanli.services.pricing import PricingService


class MalformedJson(InvalidSpec):
    """The body is not JSON at all."""

    http_status = 400
    title = "Malformed JSON"


def _constant(name: str) -> Decimal:
    # Python's JSON reader takes NaN and Infinity, which JSON does not have.
    raise MalformedJson(f"the request body is not valid JSON: {name} is not a JSON number; a price is finite")


def parse_rate(body: bytes) -> RateIn:
    """The body as a RateIn, each JSON number read from its text as a Decimal: 0.1 stays 0.1, and
    a number with too many decimals is refused rather than rounded by a float."""
    try:
        data = json.loads(body, parse_float=Decimal, parse_constant=_constant)
    except json.JSONDecodeError as error:
        where = f"at line {error.lineno}, column {error.colno}"
        raise MalformedJson(f"the request body is not valid JSON: {error.msg} {where}") from None
    except (UnicodeDecodeError, RecursionError):
        raise MalformedJson("the request body is not valid JSON text in UTF-8") from None
    if not isinstance(data, dict):
        raise InvalidSpec('the body must be a JSON object: {"pool": ..., "per_accelerator_hour": ...}', field="body")
    return RateIn.model_validate(data)  # a ValidationError answers 422, naming the fields


async def body_bytes(request: Request) -> bytes:
    require_json(request)
    return await request.body()


def pricing_router(pricing: PricingService) -> APIRouter:
    router = APIRouter(prefix="/centers", tags=["prices"])

    def shown(center: str, rate: Rate, standing: Standing) -> RateOut:
        pools = {p.name: p.accelerator for p in pricing.centers.get(center).pools}
        return RateOut.from_rate(rate, standing, pools.get(rate.pool))

    @router.post(
        "/{name}/rates",
        status_code=201,
        response_model=RatePublishedOut,
        responses=problem_docs(400, 403, 404, 409, 415, 422),
        summary="Publish a pool's price from a time on (now, or later); a future one with the same time is replaced",
        openapi_extra=json_body_doc(RateIn),
    )
    def publish_rate(name: CenterName, asker: Asker, body: Annotated[bytes, Depends(body_bytes)]) -> Response:
        change = parse_rate(body).to_change(name, asker.name)
        rate, replaced = pricing.publish(change, organization_of(asker))
        standing = Standing.IN_FORCE if rate.effective_from <= pricing.clock.now() else Standing.SCHEDULED
        out = RatePublishedOut(
            **shown(name, rate, standing).model_dump(),
            replaced=shown(name, replaced, Standing.WITHDRAWN) if replaced is not None else None,
        )
        return json_response(out, 201)

    @router.get(
        "/{name}/rates",
        response_model=RateListOut,
        responses=problem_docs(404, 422),
        summary="A center's prices: every rate of its pools, each in force, scheduled or superseded at a time",
    )
    def list_rates(
        name: CenterName,
        at: Annotated[
            str | None, checked_moment_query("see the rates as of this time (RFC 3339, with a zone); default: now")
        ] = None,
    ) -> Response:
        listed = pricing.price_list(name, parse_moment(at, "at"))
        pools = {p.name: p.accelerator for p in listed.center.pools}
        rates = [RateOut.from_rate(rate, standing, pools.get(rate.pool)) for rate, standing in listed.rates]
        return json_response(RateListOut(center=name, at=listed.at, rates=rates))

    @router.delete(
        "/{name}/rates",
        response_model=RateOut,
        responses=problem_docs(403, 404, 409, 422),
        summary="Withdraw a rate that has not taken effect yet (one in force is never changed)",
    )
    def withdraw_rate(
        name: CenterName,
        asker: Asker,
        pool: Annotated[str, Query(min_length=1, max_length=63, pattern=NAME_PATTERN, description="the pool")],
        effective_from: Annotated[
            str, checked_moment_query("the time the rate was to take effect (RFC 3339, with a zone)")
        ],
    ) -> Response:
        moment: datetime | None = parse_moment(effective_from, "effective_from")
        assert moment is not None  # the query parameter is required
        rate = pricing.withdraw(name, pool, moment, organization_of(asker))
        return json_response(shown(name, rate, Standing.WITHDRAWN))

    return router
