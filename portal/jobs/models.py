"""Which period each job last ran for: the row several runners compete for."""

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base


class JobRun(Base):
    """One row per job. A runner takes a period by moving ``period_start`` forward with a
    compare-and-set UPDATE; of several runners racing for the same period, exactly one
    matches the row."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the start of the last period some runner took
    period_start: Mapped[datetime | None]
    #: host:pid of the runner that took it
    runner: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: True, False, or None while running (or when its runner died mid-run)
    succeeded: Mapped[bool | None]
    #: the job's summary line, or the error that stopped it
    outcome: Mapped[str | None] = mapped_column(Text)
