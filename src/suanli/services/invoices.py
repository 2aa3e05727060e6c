"""Invoices and statements: rates what has run, then reads the period's lines from the ledger and
checks them against its balances (domain.invoices)."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from suanli.domain.invoices import Invoice, InvoiceLine, Period, Statement, StatementLine, invoice, statement
from suanli.services.rating import RatingService


class InvoiceStore(Protocol):
    def invoice_lines(self, organization: str, period: Period) -> tuple[list[InvoiceLine], Decimal]: ...
    def statement_lines(self, owner: str, period: Period) -> tuple[list[StatementLine], Decimal]: ...


class InvoiceService:
    def __init__(self, store: InvoiceStore, rating: RatingService) -> None:
        self.store = store
        self.rating = rating

    def invoice(self, organization: str, period: Period) -> Invoice:
        self.rating.rate_new()  # what ran until a moment ago is in it
        lines, change = self.store.invoice_lines(organization, period)
        return invoice(organization, period, lines, change)

    def statement(self, owner: str, period: Period) -> Statement:
        self.rating.rate_new()
        lines, change = self.store.statement_lines(owner, period)
        return statement(owner, period, lines, change)
