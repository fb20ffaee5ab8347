"""Running the periodic jobs that are due, safely from several hosts at once.

Time is cut into periods of each job's length (counted from the Unix epoch, so every host
agrees on them). A runner takes a job's period with a compare-and-set UPDATE on its
``job_runs`` row: the one that moves ``period_start`` forward runs the job, any other sees
no row matched and leaves it. The claim is committed before the job starts, so no lock is
held while the job runs (jobs call payment providers). A runner that dies mid-job leaves the
period taken; the job runs again in the next period.
"""

import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.jobs.models import JobRun
from portal.jobs.schedule import JOBS, Job, Say
from portal.uow import unit_of_work

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def period_start(job: Job, now: datetime) -> datetime:
    periods = (now - EPOCH) // job.every
    return EPOCH + periods * job.every


def claim(db: Session, job: Job, now: datetime, runner: str) -> datetime | None:
    """Take this period of ``job`` for ``runner`` (committed), or None when some runner
    already took it."""
    start = period_start(job, now)
    with unit_of_work(db):
        insert = _INSERTS[db.get_bind().dialect.name]
        db.execute(insert(JobRun).values(name=job.name).on_conflict_do_nothing(
            index_elements=[JobRun.name]))
        guard = or_(JobRun.period_start.is_(None), JobRun.period_start < start)
        if not current_app.config.get("GUARD_JOB_CLAIMS", True):
            guard = JobRun.name == job.name  # test switch: every runner "wins"
        taken = db.execute(
            update(JobRun).where(JobRun.name == job.name, guard)
            .values(period_start=start, runner=runner, started_at=now, finished_at=None,
                    succeeded=None, outcome=None)
            .execution_options(synchronize_session=False)
        ).rowcount
    return start if taken == 1 else None


def _finish(db: Session, name: str, runner: str, succeeded: bool, outcome: str) -> None:
    with unit_of_work(db):
        db.execute(
            update(JobRun).where(JobRun.name == name, JobRun.runner == runner)
            .values(finished_at=utcnow(), succeeded=succeeded, outcome=outcome[:2000])
            .execution_options(synchronize_session=False)
        )


@dataclass
class Ran:
    job: str
    succeeded: bool
    outcome: str


def run_due(db: Session, say: Say, *, now: datetime | None = None,
            only: Sequence[str] = (), runner: str | None = None,
            jobs: Sequence[Job] = JOBS) -> list[Ran]:
    """Run every job whose current period no runner has taken yet; one failing job does
    not stop the others."""
    runner = runner or runner_name()
    ran = []
    for job in jobs:
        if only and job.name not in only:
            continue
        moment = now or utcnow()
        if claim(db, job, moment, runner) is None:
            continue
        say(f"{job.name}: {job.about}", False)
        try:
            outcome, succeeded = job.run(db, say), True
        except Exception as error:  # noqa: BLE001 - recorded, and the next job still runs
            db.rollback()
            log.exception("job %s failed", job.name)
            outcome, succeeded = f"failed: {error}", False
        say(f"{job.name}: {outcome}", not succeeded)
        _finish(db, job.name, runner, succeeded, outcome)
        ran.append(Ran(job.name, succeeded, outcome))
    return ran


def next_due(now: datetime, jobs: Sequence[Job] = JOBS) -> timedelta:
    """How long until the next period of any job begins."""
    return min(period_start(job, now) + job.every - now for job in jobs)
