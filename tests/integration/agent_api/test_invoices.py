"""Invoices and statements through the real API on SQLite and PostgreSQL: their totals are the
ledger's balances, their lines the usage records at the pools' prices; CSV says the same; each
caller reads its own."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest

from suanli.adapters.storage.ledger_store import SqlLedgerStore
from suanli.composition import Container
from suanli.domain.money import to_fen
from suanli.settings import Settings
from tests.integration.agent_api.conftest import API, Network
from tests.integration.agent_api.test_charges import FEE, balances, expected_charges, settle

MONTH = {"period": "2026-11"}  # the ManualClock's month: every job of `net` ran in it


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"platform_fee": FEE})


def get(net: Network, who: str, path: str, **params: Any) -> Any:
    return net.api.get(API + path, params=params, headers=net.as_(who))


def test_invoice_matches_the_receivable_and_the_records_at_their_prices(net: Network, container: Container) -> None:
    settle(container)
    charges = expected_charges(net)
    invoice = net.ok("acme-user", "GET", "/invoices/acme", params=MONTH)
    everything = balances(net, "admin")
    assert invoice["period"] == "2026-11" and invoice["currency"] == "CNY"
    assert Decimal(invoice["total_due"]) == everything["receivable:acme"]
    assert Decimal(invoice["total_due"]) == sum(a for payer, _, a in charges if payer == "acme") > 0
    assert Decimal(invoice["total_covered"]) == 0  # no vouchers yet: shown all the same
    (line,) = invoice["lines"]  # acme ran one job: 8 A100 for an hour on acme-ai
    assert (line["center"], line["accelerator"], Decimal(line["accelerator_hours"])) == ("acme-ai", "A100-80G", 8)
    assert sum(Decimal(x["due"]) for x in invoice["lines"]) == Decimal(invoice["total_due"])

    rival = net.ok("rival-user", "GET", "/invoices/rival", params=MONTH)
    assert {x["center"] for x in rival["lines"]} == {"acme-ai", "rival-ai"}  # it ran on both
    assert Decimal(rival["total_due"]) == everything["receivable:rival"]

    statement = net.ok("acme-center-operator", "GET", "/statements/acme", params=MONTH)
    assert Decimal(statement["net"]) == -everything["payable:acme"]
    on_acme = [a for _, owner, a in charges if owner == "acme"]
    assert Decimal(statement["gross"]) == sum(on_acme)
    assert Decimal(statement["fee"]) == sum(to_fen(a * FEE) for a in on_acme)


def test_csv_says_what_json_says(net: Network, container: Container) -> None:
    settle(container)
    invoice = net.ok("admin", "GET", "/invoices/rival", params=MONTH)
    answer = get(net, "admin", "/invoices/rival", format="csv", **MONTH)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    *lines, total = rows
    assert total["center"] == "TOTAL" and Decimal(total["due"]) == Decimal(invoice["total_due"])
    assert sum(Decimal(r["due"]) for r in lines) == Decimal(total["due"])
    assert [(r["center"], r["due"]) for r in lines] == [(x["center"], x["due"]) for x in invoice["lines"]]

    statement = net.ok("admin", "GET", "/statements/acme", params=MONTH)
    rows = list(csv.DictReader(io.StringIO(get(net, "admin", "/statements/acme", format="csv", **MONTH).text)))
    assert rows[-1]["center"] == "TOTAL" and rows[-1]["net"] == statement["net"]
    assert sum(Decimal(r["net"]) for r in rows[:-1]) == Decimal(statement["net"])


def test_a_reversal_counts_against_its_line(net: Network, container: Container) -> None:
    settle(container)
    before = net.ok("acme-user", "GET", "/invoices/acme", params=MONTH)
    ledger: SqlLedgerStore = container.rating.ledger  # type: ignore[assignment]
    (record,) = net.usage("acme-user")["items"]
    (original,) = ledger.transactions([f"usage:{record['id']}"])
    ledger.book([(original.reversal(original.at, "a correction"), None)], container.agents.clock.now())
    after = net.ok("acme-user", "GET", "/invoices/acme", params=MONTH)
    assert Decimal(before["total_due"]) > 0 and Decimal(after["total_due"]) == 0
    assert after["lines"] == []  # the line of the record, and its reversal: nothing left
    assert balances(net, "admin")["receivable:acme"] == 0
    statement = net.ok("acme-owner", "GET", "/statements/acme", params=MONTH)
    assert Decimal(statement["net"]) == -balances(net, "admin")["payable:acme"]


def test_who_reads_which(net: Network, container: Container) -> None:
    settle(container)
    for who in ("acme-user", "acme-owner", "acme-viewer", "acme-auditor"):
        assert get(net, who, "/invoices/acme", **MONTH).status_code == 200, who
        assert get(net, who, "/invoices/rival", **MONTH).status_code == 404, who
    assert get(net, "acme-center-operator", "/invoices/acme", **MONTH).status_code == 403
    for who in ("acme-center-operator", "acme-owner"):
        assert get(net, who, "/statements/acme", **MONTH).status_code == 200, who
        assert get(net, who, "/statements/rival", **MONTH).status_code == 404, who
    assert get(net, "acme-user", "/statements/acme", **MONTH).status_code == 403
    assert get(net, "admin", "/invoices/nobody", **MONTH).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"period": "2026-13"},
        {"period": "November"},
        {"period": "2026-11", "since": "2026-11-01T00:00:00Z"},
        {"since": "2026-11-01T00:00:00Z"},
        {"since": "2026-12-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
        {"format": "pdf"},
    ],
)
def test_a_bad_period_is_a_clear_422(net: Network, params: dict[str, str]) -> None:
    answer = get(net, "admin", "/invoices/acme", **params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]


def test_any_period_and_the_default_month(net: Network, container: Container) -> None:
    settle(container)
    month = net.ok("acme-user", "GET", "/invoices/acme", params=MONTH)
    assert net.ok("acme-user", "GET", "/invoices/acme")["total_due"] == month["total_due"]  # this month
    span = {"since": "2026-11-28T00:00:00Z", "until": "2026-11-29T00:00:00Z"}
    assert net.ok("acme-user", "GET", "/invoices/acme", params=span)["total_due"] == month["total_due"]
    empty = net.ok("acme-user", "GET", "/invoices/acme", params={"period": "2026-10"})
    assert empty["lines"] == [] and empty["total_due"] == "0.00"
