"""The wire format of ``GET /api/v1/usage``: usage records, or their sums per group (docs/metering.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from suanli.domain.ledger import AccountKind
from suanli.domain.usage import UsageGrouping, UsageRecord, UsageSummary


class UsageRecordOut(BaseModel):
    """One metered interval of one attempt."""

    id: int = Field(description="1, 2, ...: the order records were written in; the cursor pages by it")
    job_id: int
    attempt: int = Field(description="the attempt's number (its fencing token)")
    interval_start: datetime = Field(description="server clock")
    interval_end: datetime
    seconds: float
    organization: str = Field(description="whose job it was")
    project: str
    center: str
    center_organization: str = Field(description="who owned the center when it ran")
    pool: str
    accelerator: str = Field(description="the catalog model, or CPU for a job without accelerators")
    accelerators: int = Field(description="accelerators held on all the attempt's nodes together (0 for CPU)")
    cpus: int
    memory_gb: float
    accelerator_hours: float
    reason: str = Field(
        description="checkpoint: the attempt ran on; else how it ended: SUCCEEDED, FAILED, CANCELLED or LOST"
    )
    recorded_at: datetime = Field(description="when the server wrote it")

    @classmethod
    def from_record(cls, record: UsageRecord) -> UsageRecordOut:
        return cls.model_construct(
            id=record.id or 0,
            job_id=record.job_id,
            attempt=record.attempt,
            interval_start=record.interval_start,
            interval_end=record.interval_end,
            seconds=record.seconds,
            organization=record.organization,
            project=record.project,
            center=record.center,
            center_organization=record.center_organization,
            pool=record.pool,
            accelerator=record.accelerator,
            accelerators=record.accelerators,
            cpus=record.cpus,
            memory_gb=record.memory_gb,
            accelerator_hours=record.accelerator_hours,
            reason=record.reason,
            recorded_at=record.recorded_at,
        )


class UsagePageOut(BaseModel):
    group_by: None = Field(default=None, description="null: the records themselves")
    items: list[UsageRecordOut]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= to get the next page; null on the last page"
    )


class UsageGroupOut(BaseModel):
    """The sums of the records of one group."""

    key: str = Field(description="the day (YYYY-MM-DD, UTC), center, accelerator, organization/project or job id")
    records: int
    seconds: float
    accelerator_hours: float
    cpu_hours: float
    memory_gb_hours: float
    until: datetime | None = Field(default=None, description="where the group's latest interval ends")

    @classmethod
    def from_summary(cls, summary: UsageSummary) -> UsageGroupOut:
        return cls.model_construct(
            key=summary.key,
            records=summary.records,
            seconds=summary.seconds,
            accelerator_hours=summary.accelerator_hours,
            cpu_hours=summary.cpu_hours,
            memory_gb_hours=summary.memory_gb_hours,
            until=summary.until,
        )


class UsageSummaryOut(BaseModel):
    group_by: UsageGrouping
    items: list[UsageGroupOut]
    next_cursor: None = Field(default=None, description="always null: every group is in the answer")


class AccountOut(BaseModel):
    """One account of the ledger (docs/metering.md#the-ledger) and its balance: debits positive,
    so what an organization owes is positive, what a center owner is owed negative."""

    account: str = Field(description="kind:owner, e.g. receivable:acme")
    kind: AccountKind
    owner: str
    balance: str = Field(description='in the currency, to the fen, as text (e.g. "1234.50"): money is never a float')


class AccountListOut(BaseModel):
    items: list[AccountOut]
    currency: str
