"""The ledger: double-entry bookkeeping of what organizations owe, what center owners earn, the
platform's fee and what voucher programs pay.

Every change of money is one ``Transaction`` of two or more entries over accounts that sum to
zero: a debit is positive, a credit negative. Transactions are never edited: a correction is a
new transaction, the ``reversal`` of the wrong one (and, if need be, a right one after it). Each
transaction has a ``key`` naming what it is for (``usage:42``: the charge of usage record 42), so
that rating the same thing twice, in one process or two, writes it once.

Accounts, by what their balance means from the platform's side:

- ``receivable:ORG`` (debit): what organization ORG owes for compute;
- ``voucher:PROGRAM`` (debit): what voucher program PROGRAM owes for the share it covers;
- ``payable:OWNER`` (credit): what the platform owes the organization owning the centers;
- ``fee:platform`` (credit): the platform's fee.

A charge of 100.00 with a 5% fee, 30.00 of it covered by a voucher, is: receivable:acme +70.00,
voucher:sh-2027 +30.00, payable:center-owner -95.00, fee:platform -5.00.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from suanli.domain.identity import Principal, Role
from suanli.domain.money import FEN, ZERO, to_fen
from suanli.domain.usage import readable_usage

PLATFORM = "platform"


class AccountKind(StrEnum):
    RECEIVABLE = "receivable"
    VOUCHER = "voucher"
    PAYABLE = "payable"
    FEE = "fee"


@dataclass(frozen=True, slots=True, order=True)
class Account:
    kind: AccountKind
    owner: str  # an organization, a voucher program, or "platform"

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.owner}"

    @classmethod
    def parse(cls, name: str) -> Account:
        """The account ``str(account)`` names: ``receivable:acme``."""
        kind, _, owner = name.partition(":")
        return cls(AccountKind(kind), owner)


@dataclass(frozen=True, slots=True)
class Entry:
    account: Account
    amount: Decimal  # in fen; a debit positive, a credit negative


class Unbalanced(ValueError):
    """A transaction whose entries do not sum to zero, or hold a fraction of a fen: a bug, never
    a user's mistake, so it is not a SuanliError."""


@dataclass(frozen=True, slots=True)
class Transaction:
    key: str  # what it is for; one transaction per key, ever
    at: datetime
    memo: str
    entries: tuple[Entry, ...]
    reverses: str | None = None  # the key of the transaction this one undoes

    def __post_init__(self) -> None:
        if len(self.entries) < 2:
            raise Unbalanced(f"{self.key}: a transaction has at least two entries")
        total = ZERO
        for entry in self.entries:  # one plain loop: rating checks millions of these
            amount = entry.amount
            if not amount or amount.quantize(FEN) != amount:
                raise Unbalanced(f"{self.key}: {entry.account} {amount} is not a non-zero amount in fen")
            total += amount
        if total:
            raise Unbalanced(f"{self.key}: the entries sum to {total}, not zero")

    def reversal(self, at: datetime, memo: str) -> Transaction:
        """The transaction that undoes this one: every entry negated."""
        entries = tuple(Entry(e.account, -e.amount) for e in self.entries)
        return Transaction(f"reversal:{self.key}", at, memo, entries, reverses=self.key)


@lru_cache(maxsize=10_000)  # a charge names three accounts: the same few, over and over
def receivable(organization: str) -> Account:
    return Account(AccountKind.RECEIVABLE, organization)


@lru_cache(maxsize=10_000)
def payable(owner: str) -> Account:
    return Account(AccountKind.PAYABLE, owner)


@lru_cache(maxsize=10_000)
def voucher(program: str) -> Account:
    return Account(AccountKind.VOUCHER, program)


FEE = Account(AccountKind.FEE, PLATFORM)


def charge(
    key: str,
    at: datetime,
    memo: str,
    *,
    organization: str,
    center_owner: str,
    amount: Decimal,
    fee_rate: Decimal,
    covered: tuple[str, Decimal] | None = None,
) -> Transaction | None:
    """The transaction of one charge: ``amount`` (rounded to the fen here) owed by the
    organization, less what a voucher program covers (``covered``: the program and its amount,
    at most ``amount``); earned by the center's owner, less the platform's fee (``fee_rate`` of
    the amount, rounded to the fen). None for a charge of nothing."""
    amount = to_fen(amount)
    if amount == 0:
        return None
    if amount < 0:
        raise Unbalanced(f"{key}: a charge of {amount} is negative; a correction is a reversal")
    if not ZERO <= fee_rate <= 1:
        raise Unbalanced(f"{key}: a fee of {fee_rate} of the charge is not a share between 0 and 1")
    fee = to_fen(amount * fee_rate)  # the fee rounded; the owner earns the rest: they add up exactly
    earned = amount - fee
    entries = [Entry(payable(center_owner), -earned)] if earned else []
    if fee:
        entries.append(Entry(FEE, -fee))
    if covered is None:
        entries.append(Entry(receivable(organization), amount))
    else:
        program, share = covered
        if not ZERO <= share <= amount or share != to_fen(share):
            raise Unbalanced(f"{key}: a voucher covers {share} of a charge of {amount}")
        parts = ((receivable(organization), amount - share), (voucher(program), share))
        entries += [Entry(account, value) for account, value in parts if value]
    return Transaction(key, at, memo, tuple(entries))


def balances(transactions: Iterable[Transaction]) -> dict[Account, Decimal]:
    """Each account's balance: the sum of its entries (debits positive)."""
    found: dict[Account, Decimal] = defaultdict(lambda: ZERO)
    for transaction in transactions:
        for entry in transaction.entries:
            found[entry.account] += entry.amount
    return dict(found)


def readable_accounts(principal: Principal) -> list[Account] | None:
    """The accounts whose balances a principal may read: what its organization owes, if it may
    read its organization's usage; what its organization earns as a center owner, if it is a
    center operator or an admin there; None for every account (a platform admin)."""
    if Role.PLATFORM_ADMIN in principal.roles:
        return None
    reach = readable_usage(principal)
    found = [receivable(reach.organization)] if reach.organization is not None else []
    if reach.centers_of is not None or Role.ORG_ADMIN in principal.roles:
        found.append(payable(principal.organization))
    return found
