"""The ledger's invariants, for any charges hypothesis can think of: every transaction balances,
the parts of a charge add up to it, a reversal undoes its transaction, and the balances of all
accounts together are zero."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.ledger import (
    FEE,
    AccountKind,
    Entry,
    Transaction,
    Unbalanced,
    balances,
    charge,
    payable,
    receivable,
)
from suanli.domain.money import ZERO, to_fen

AT = datetime(2027, 1, 1, tzinfo=UTC)
amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("1000000"), places=6)
shares = st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=4)
organizations = st.sampled_from(["acme", "qd-university", "rival"])
owners = st.sampled_from(["qd-ai", "sz-hpc"])


@st.composite
def charges(draw: st.DrawFn, key: str = "usage:1") -> tuple[Transaction | None, Decimal, Decimal, Decimal]:
    amount = draw(amounts)
    fee_rate = draw(shares)
    covered_share = draw(shares)
    covered = to_fen(to_fen(amount) * covered_share)
    made = charge(
        key,
        AT,
        "test",
        organization=draw(organizations),
        center_owner=draw(owners),
        amount=amount,
        fee_rate=fee_rate,
        covered=("sh-2027", covered) if covered else None,
    )
    return made, to_fen(amount), fee_rate, covered


@given(charges())
def test_a_charge_balances_and_its_parts_add_up_to_it(
    drawn: tuple[Transaction | None, Decimal, Decimal, Decimal],
) -> None:
    made, amount, fee_rate, covered = drawn
    if amount == 0:
        assert made is None
        return
    assert made is not None
    by_account = balances([made])

    def total(kind: AccountKind) -> Decimal:
        return sum((v for a, v in by_account.items() if a.kind is kind), ZERO)

    assert sum(e.amount for e in made.entries) == 0
    assert total(AccountKind.RECEIVABLE) == amount - covered  # the organization pays the rest
    assert total(AccountKind.VOUCHER) == covered
    assert -total(AccountKind.PAYABLE) - total(AccountKind.FEE) == amount  # who is paid: all of it
    assert -by_account.get(FEE, ZERO) == to_fen(amount * fee_rate)  # the fee, rounded once
    assert all(e.amount == to_fen(e.amount) and e.amount != 0 for e in made.entries)


@given(st.lists(charges(), min_size=1, max_size=20))
def test_all_balances_sum_to_zero_and_reversals_undo(
    drawn: list[tuple[Transaction | None, Decimal, Decimal, Decimal]],
) -> None:
    made = [t for t, *_ in drawn if t is not None]
    assert sum(balances(made).values(), ZERO) == 0
    undone = [*made, *(t.reversal(AT, "correction") for t in made)]
    assert all(value == 0 for value in balances(undone).values())
    assert all(
        r.reverses == t.key and r.key == f"reversal:{t.key}" for t, r in zip(made, undone[len(made) :], strict=True)
    )


def test_rounding_is_half_away_from_zero_to_the_fen() -> None:
    assert [to_fen(Decimal(v)) for v in ("0.005", "0.004999", "2.675", "-0.005")] == [
        Decimal("0.01"),
        Decimal("0.00"),
        Decimal("2.68"),  # as a float, 2.675 is 2.67499999...: why money is never a float
        Decimal("-0.01"),
    ]


def test_unbalanced_transactions_and_bad_charges_are_refused() -> None:
    with pytest.raises(Unbalanced, match="sum to"):
        Transaction("x", AT, "", (Entry(receivable("a"), Decimal("1.00")), Entry(FEE, Decimal("-0.99"))))
    with pytest.raises(Unbalanced, match="in fen"):
        Transaction("x", AT, "", (Entry(receivable("a"), Decimal("1.001")), Entry(FEE, Decimal("-1.001"))))
    with pytest.raises(Unbalanced, match="at least two"):
        Transaction("x", AT, "", (Entry(receivable("a"), Decimal("0")),))
    common = {"organization": "a", "center_owner": "b", "fee_rate": Decimal("0.05")}
    with pytest.raises(Unbalanced, match="negative"):
        charge("x", AT, "", amount=Decimal("-1"), **common)  # type: ignore[arg-type]
    with pytest.raises(Unbalanced, match="voucher covers"):
        charge("x", AT, "", amount=Decimal("1"), covered=("p", Decimal("2")), **common)  # type: ignore[arg-type]
    with pytest.raises(Unbalanced, match="share between"):
        charge("x", AT, "", organization="a", center_owner="b", amount=Decimal("1"), fee_rate=Decimal("1.5"))
    assert payable("b") != receivable("b") and str(payable("b")) == "payable:b"
