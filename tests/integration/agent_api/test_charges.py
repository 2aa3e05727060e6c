"""Usage becomes charges in the ledger, through the real API on SQLite and PostgreSQL: each
usage record is booked once, at its pool's rate, split between the center's owner and the
platform's fee; each caller reads the balances that are theirs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from suanli.composition import Container
from suanli.domain.money import to_fen
from suanli.settings import Settings
from tests.clocks import ManualClock
from tests.integration.agent_api.conftest import Network

FEE = Decimal("0.05")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The conftest's settings, with a platform fee."""
    return settings.model_copy(update={"platform_fee": FEE})


def balances(net: Network, who: str) -> dict[str, Decimal]:
    answer = net.ok(who, "GET", "/accounts")
    assert answer["currency"] == "CNY"
    return {item["account"]: Decimal(item["balance"]) for item in answer["items"]}


def expected_charges(net: Network) -> list[tuple[str, str, Decimal]]:
    """(who pays, whose center, the charge) of every usage record, from the records and the
    pools' published prices, as the admin reads them."""
    found = []
    for record in net.usage("admin")["items"]:
        rates = net.ok("admin", "GET", f"/centers/{record['center']}/rates")["rates"]
        (price,) = {Decimal(r["per_accelerator_hour"]) for r in rates if r["pool"] == record["pool"]}
        hours = Decimal(record["seconds"]) / 3600 * record["accelerators"]
        found.append((record["organization"], record["center_organization"], to_fen(hours * price)))
    return found


def settle(container: Container) -> None:
    clock: ManualClock = container.agents.clock  # type: ignore[assignment]
    clock.advance(60)  # past the rater's settling time


def test_usage_is_charged_once_and_split_between_owner_and_fee(net: Network, container: Container) -> None:
    settle(container)
    charges = expected_charges(net)
    assert len(charges) == 3 and all(amount > 0 for *_, amount in charges)
    everything = balances(net, "admin")
    for org in ("acme", "rival"):
        assert everything[f"receivable:{org}"] == sum(a for payer, _, a in charges if payer == org)
        earned = sum(a - to_fen(a * FEE) for _, owner, a in charges if owner == org)
        assert everything[f"payable:{org}"] == -earned
    assert everything["fee:platform"] == -sum(to_fen(a * FEE) for *_, a in charges)
    assert sum(everything.values()) == 0  # every transaction balances, so does the whole ledger

    again = container.rating.rate_new()  # a second pass, as another process would: books nothing
    assert again == 0 and balances(net, "admin") == everything


def test_each_reads_the_balances_that_are_theirs(net: Network, container: Container) -> None:
    settle(container)
    everything = balances(net, "admin")
    assert balances(net, "acme-user") == {"receivable:acme": everything["receivable:acme"]}
    assert balances(net, "acme-owner") == {k: everything[k] for k in ("receivable:acme", "payable:acme")}
    assert balances(net, "acme-center-operator") == {"payable:acme": everything["payable:acme"]}
    assert balances(net, "rival-user") == {"receivable:rival": everything["receivable:rival"]}


def test_balances_before_a_moment_and_bad_moments(net: Network, container: Container) -> None:
    settle(container)
    early = net.ok("admin", "GET", "/accounts", params={"until": "2000-01-01T00:00:00Z"})["items"]
    assert early and {item["balance"] for item in early} == {"0.00"}  # every account, nothing in it yet
    refused: Any = net.api.get("/api/v1/accounts", params={"until": "yesterday"}, headers=net.as_("admin"))
    assert refused.status_code == 422 and "RFC 3339" in refused.json()["detail"]
