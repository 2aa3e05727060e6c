"""`suanli invoice` and `suanli statement` against a real server: their structure in a table, in
JSON and in CSV (the jobs here are short, so amounts may be zero), and a bad period's error."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.integration.cli.conftest import Server


def test_invoice_in_a_table_json_and_csv(server: Server, cli: Any, tmp_path: Path) -> None:
    shown = cli("invoice", "--org", "default", "--period", "2026-11", "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    found = shown.json()
    assert (found["organization"], found["period"], found["currency"]) == ("default", "2026-11", "CNY")
    assert Decimal(found["total_due"]) == sum((Decimal(x["due"]) for x in found["lines"]), Decimal(0))
    assert Decimal(found["total_charged"]) == Decimal(found["total_due"]) + Decimal(found["total_covered"])
    table = cli("invoice")  # this month, the caller's organization
    assert table.exit_code == 0 and "Invoice of default" in table.stdout and "DUE (CNY)" in table.stdout
    target = tmp_path / "invoice.csv"
    written = cli("invoice", "--period", "2026-11", "--csv", str(target))
    assert written.exit_code == 0, written.stderr
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert rows[-1]["center"] == "TOTAL" and rows[-1]["due"] == found["total_due"]


def test_statement_and_a_bad_period(server: Server, cli: Any, tmp_path: Path) -> None:
    shown = cli("statement", "--owner", "default", "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    found = shown.json()
    assert Decimal(found["gross"]) == Decimal(found["net"]) + Decimal(found["fee"])
    assert "Statement of default" in cli("statement").stdout
    target = tmp_path / "statement.csv"
    assert cli("statement", "--csv", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8").startswith("owner,period,center,pool,accelerator_hours,gross")
    refused = cli("invoice", "--period", "November")
    assert refused.exit_code != 0 and "YYYY-MM" in refused.stderr and "Traceback" not in refused.stdout
    missing = cli("invoice", "--org", "nobody")
    assert missing.exit_code != 0 and "nobody" in missing.stderr
