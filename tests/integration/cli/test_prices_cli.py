"""`suanli price set / list / withdraw` against a real server: exact prices from the command line
to the table and back, and bad input as one clear line with exit code 2."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli.conftest import assert_clean_error, center_yaml, write

LATER = "2099-01-01T00:00:00+08:00"


def test_set_list_and_withdraw_prices(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("cli-prices", price=10)))).exit_code == 0

    now = cli(
        "price",
        "set",
        "cli-prices",
        "--pool",
        "main",
        "--per-accelerator-hour",
        "0.1",
        "--per-cpu-hour",
        "0.0125",
        "-o",
        "json",
    )
    assert now.exit_code == 0, now.stderr
    assert (now.json()["per_accelerator_hour"], now.json()["per_cpu_hour"], now.json()["standing"]) == (
        "0.1000",
        "0.0125",
        "in_force",
    )
    later = cli("price", "set", "cli-prices", "--pool", "main", "--per-gb-hour", "0.01", "--from", LATER)
    assert later.exit_code == 0, later.stderr
    assert (
        "scheduled" in later.stdout and "0.0100" in later.stdout and "0.1000" in later.stdout
    )  # the rest carries over

    listed = cli("price", "list", "cli-prices", "-o", "json").json()["items"]
    assert [(r["per_accelerator_hour"], r["per_gb_hour"], r["standing"]) for r in listed] == [
        ("0.1000", "0.0000", "in_force"),
        ("0.1000", "0.0100", "scheduled"),
    ]
    every = cli("price", "list", "cli-prices", "--all", "-o", "json").json()["items"]
    assert [r["origin"] for r in every] == ["pool", "published", "published"]
    assert len(cli("price", "list", "-o", "json").json()["items"]) >= 2  # every center's
    table = cli("price", "list", "cli-prices")
    assert table.exit_code == 0 and "cli-prices" in table.stdout and "in force" in table.stdout
    # The scheduler's hint follows the price in force.
    shown = cli("center", "show", "cli-prices", "-o", "json").json()
    assert shown["pools"][0]["price_per_accelerator_hour"] == 0.1

    withdrawn = cli("price", "withdraw", "cli-prices", "--pool", "main", "--from", LATER)
    assert withdrawn.exit_code == 0, withdrawn.stderr
    assert "withdrew" in withdrawn.stdout
    assert len(cli("price", "list", "cli-prices", "--all", "-o", "json").json()["items"]) == 2


def test_bad_prices_exit_2_with_one_clear_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("center", "add", str(write(tmp_path / "c.yaml", center_yaml("cli-bad-prices")))).exit_code == 0
    before = cli("price", "list", "cli-bad-prices", "--all", "-o", "json").json()
    for args, says in (
        (["--per-accelerator-hour", "-1"], "negative"),
        (["--per-accelerator-hour", "abc"], "not a number"),
        (["--per-accelerator-hour", "NaN"], "finite"),
        (["--per-accelerator-hour", "1.23456"], "decimal places"),
        (["--per-accelerator-hour", "1", "--from", "2020-01-01T00:00:00+08:00"], "has already passed"),
        (["--per-accelerator-hour", "1", "--from", "next tuesday"], "not a date and time"),
        (["--per-accelerator-hour", "1", "--currency", "usd"], "currency"),
    ):
        lines = assert_clean_error(cli("price", "set", "cli-bad-prices", "--pool", "main", *args), 2)
        assert says in "\n".join(lines), lines
    lines = assert_clean_error(cli("price", "set", "cli-bad-prices", "--pool", "gpu", "--per-accelerator-hour", "1"), 1)
    assert "404" in lines[0] and "main" in lines[0]  # no such pool: names the pools it has
    assert cli("price", "list", "cli-bad-prices", "--all", "-o", "json").json() == before
    missing = assert_clean_error(cli("price", "list", "no-such-center"), 1)
    assert "no-such-center" in missing[0]
