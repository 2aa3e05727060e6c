"""The wire format of ``GET /api/v1/invoices/{organization}`` and ``GET /api/v1/statements/{owner}``
(docs/metering.md#invoices-and-statements). Amounts and hours are decimal text, never floats."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from suanli.domain.invoices import Invoice, Statement, text


class InvoiceLineOut(BaseModel):
    center: str
    pool: str
    accelerator: str = Field(description="the catalog model, or CPU (its hours are core-hours)")
    accelerator_hours: str
    charged: str = Field(description="what the usage cost, in CNY")
    covered: str = Field(description="what voucher programs pay of it")
    due: str = Field(description="what the organization owes: charged - covered")


class InvoiceOut(BaseModel):
    organization: str
    period: str = Field(description="2027-01, or START/END")
    start: datetime
    end: datetime = Field(description="excluded")
    currency: str
    lines: list[InvoiceLineOut]
    accelerator_hours: str
    total_charged: str
    total_covered: str
    total_due: str = Field(description="equals the change of receivable:ORG over the period")

    @classmethod
    def of(cls, found: Invoice) -> InvoiceOut:
        lines = [
            InvoiceLineOut(
                center=line.center,
                pool=line.pool,
                accelerator=line.accelerator,
                accelerator_hours=text(line.accelerator_hours),
                charged=text(line.charged),
                covered=text(line.covered),
                due=text(line.due),
            )
            for line in found.lines
        ]
        return cls(
            organization=found.organization,
            period=found.period.label,
            start=found.period.start,
            end=found.period.end,
            currency=found.currency,
            lines=lines,
            accelerator_hours=text(found.accelerator_hours),
            total_charged=text(found.total_charged),
            total_covered=text(found.total_covered),
            total_due=text(found.total_due),
        )


class StatementLineOut(BaseModel):
    center: str
    pool: str
    accelerator_hours: str
    gross: str = Field(description="what the usage on the pool was charged")
    fee: str = Field(description="the platform's fee of it")
    net: str = Field(description="what the owner earned: gross - fee")


class StatementOut(BaseModel):
    owner: str
    period: str
    start: datetime
    end: datetime = Field(description="excluded")
    currency: str
    lines: list[StatementLineOut]
    gross: str
    fee: str
    net: str = Field(description="equals minus the change of payable:OWNER over the period")

    @classmethod
    def of(cls, found: Statement) -> StatementOut:
        lines = [
            StatementLineOut(
                center=line.center,
                pool=line.pool,
                accelerator_hours=text(line.accelerator_hours),
                gross=text(line.gross),
                fee=text(line.fee),
                net=text(line.net),
            )
            for line in found.lines
        ]
        return cls(
            owner=found.owner,
            period=found.period.label,
            start=found.period.start,
            end=found.period.end,
            currency=found.currency,
            lines=lines,
            gross=text(found.gross),
            fee=text(found.fee),
            net=text(found.net),
        )
