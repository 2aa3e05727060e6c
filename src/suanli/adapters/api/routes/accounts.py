"""/api/v1/accounts: the ledger's balances the asker may read: what its organization owes for
compute, what it earns as a center owner; every account for a platform admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from starlette.responses import Response

from suanli.adapters.api.auth import Asker
from suanli.adapters.api.responses import json_response, problem_docs
from suanli.adapters.api.routes.usage import moment, moment_query
from suanli.domain.ledger import Account, payable, readable_accounts, receivable
from suanli.domain.money import CURRENCY, ZERO
from suanli.protocol.usage import AccountListOut, AccountOut
from suanli.services.identity import IdentityService
from suanli.services.rating import RatingService


def accounts_router(rating: RatingService, identity: IdentityService) -> APIRouter:
    router = APIRouter(tags=["billing"])

    @router.get(
        "/accounts",
        response_model=AccountListOut,
        responses=problem_docs(401, 403, 422),
        summary="Balances of the ledger's accounts you may read (what your organization owes or earns)",
    )
    def list_accounts(
        asker: Asker,
        until: Annotated[str | None, moment_query("the balances before this time (RFC 3339, with a zone)")] = None,
    ) -> Response:
        rating.rate_new()  # what ran until a moment ago is in the answer
        accounts = readable_accounts(asker)
        found = rating.balances(accounts, until=moment(until, "until"))
        if accounts is None:  # a platform admin: every organization's, those without entries too
            organizations = [o.name for o in identity.list_organizations()]
            accounts = [a for o in organizations for a in (receivable(o), payable(o))]
        names = sorted(set(found) | {str(account) for account in accounts})
        items = [
            AccountOut(account=name, kind=account.kind, owner=account.owner, balance=str(found.get(name, ZERO)))
            for name in names
            for account in (Account.parse(name),)
        ]
        return json_response(AccountListOut(items=items, currency=CURRENCY))

    return router
