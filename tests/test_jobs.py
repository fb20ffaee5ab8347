"""Periodic jobs from one entry point (`flask --app portal jobs run [--loop]`): each job runs
once per period, however many runners (hosts) run at once; a failing job is recorded and
does not stop the others.

The race test runs runners in parallel threads, each with its own database connection
(real parallel connections on PostgreSQL when PORTAL_TEST_DATABASE_URL is set), with a
control: with the claim switched off (a test-only switch), the job runs twice.
"""

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.jobs.models import JobRun
from portal.jobs.runner import period_start, run_due
from portal.jobs.schedule import JOBS, Job
from portal.licensing.models import Quote
from tests.payments_support import mails_to, quoted_request, state

BUYER = "jane@gazette.example"
NOON = datetime(2026, 11, 26, 12, 0, 30, tzinfo=UTC)


def quiet(_line: str, _problem: bool) -> None:
    pass


def runs(db: Session) -> dict[str, JobRun]:
    db.expire_all()
    return {r.name: r for r in db.scalars(select(JobRun))}


def test_periods_are_the_same_on_every_host() -> None:
    five = Job("x", timedelta(minutes=5), lambda db, say: "", "")
    assert period_start(five, NOON) == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert period_start(five, NOON + timedelta(minutes=4, seconds=29)) == period_start(five, NOON)
    assert period_start(five, NOON + timedelta(minutes=5)) == NOON.replace(minute=5, second=0)
    hourly = Job("y", timedelta(hours=1), lambda db, say: "", "")
    assert period_start(hourly, NOON) == NOON.replace(minute=0, second=0)


def test_jobs_run_expires_a_quote_once_per_period_and_records_each_run(
        app: Flask, db: Session) -> None:
    request_id, _url = quoted_request(app, db)
    db.execute(update(Quote).where(Quote.request_id == request_id)
               .values(valid_until=utcnow() - timedelta(minutes=1)))
    db.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["jobs", "run"])
    assert first.exit_code == 0, first.output
    assert "requests-expire: Expired 1 quote." in first.output
    assert "licences-expire: Expired 0 licences" in first.output
    assert "payments-reconcile: 0 payments checked" in first.output
    assert state(db, request_id) == "expired"
    expiry_mails = [m for m in mails_to(db, BUYER) if "expired" in m.subject.lower()]
    assert len(expiry_mails) == 1
    recorded = runs(db)
    assert sorted(recorded) == sorted(job.name for job in JOBS)
    assert all(r.succeeded and r.finished_at is not None for r in recorded.values())
    # The same period again: nothing runs.
    again = runner.invoke(args=["jobs", "run"])
    assert again.exit_code == 0 and again.output == "", again.output
    listing = runner.invoke(args=["jobs", "list"])
    assert "requests-expire" in listing.output and "ok at" in listing.output
    assert "Expired 1 quote." in listing.output


def test_a_failing_job_is_recorded_and_the_others_still_run(app: Flask, db: Session) -> None:
    def broken(_db: Session, _say: object) -> str:
        raise RuntimeError("the provider is down")

    done: list[str] = []
    jobs = (Job("broken", timedelta(minutes=5), broken, "fails"),
            Job("fine", timedelta(minutes=5), lambda _db, _say: done.append("x") or "ok", "works"))
    lines: list[tuple[str, bool]] = []
    with app.app_context():
        session = app.extensions["portal.db"].sessionmaker()
        ran = run_due(session, lambda line, problem: lines.append((line, problem)), jobs=jobs,
                      now=NOON)
        session.close()
    assert [(r.job, r.succeeded) for r in ran] == [("broken", False), ("fine", True)]
    assert done == ["x"]
    assert ("broken: failed: the provider is down", True) in lines
    recorded = runs(db)
    assert recorded["broken"].succeeded is False
    assert recorded["broken"].outcome == "failed: the provider is down"
    # The failed job is tried again in the next period, not before.
    with app.app_context():
        session = app.extensions["portal.db"].sessionmaker()
        assert run_due(session, quiet, jobs=jobs, now=NOON + timedelta(minutes=1)) == []
        later = run_due(session, quiet, jobs=jobs, now=NOON + timedelta(minutes=5))
        session.close()
    assert [r.job for r in later] == ["broken", "fine"]


@pytest.mark.parametrize("guarded", [True, False], ids=["claimed", "control-unguarded"])
def test_two_runners_at_once_run_a_job_once_per_period(
        app: Flask, db: Session, guarded: bool) -> None:
    app.config["GUARD_JOB_CLAIMS"] = guarded
    effects: list[str] = []
    lock = threading.Lock()

    def slow_job(_db: Session, _say: object) -> str:
        time.sleep(0.3)  # long enough for the other runner to try the same period
        with lock:
            effects.append(threading.current_thread().name)
        return "done"

    jobs = (Job("counted", timedelta(minutes=5), slow_job, "counts its runs"),)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def runner(name: str) -> None:
        try:
            with app.app_context():
                session = app.extensions["portal.db"].sessionmaker()
                start.wait(timeout=10)
                run_due(session, quiet, jobs=jobs, now=NOON, runner=name)
                session.close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=runner, args=(f"host-{n}:1",), name=f"host-{n}")
               for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    if guarded:
        assert len(effects) == 1, effects
        assert runs(db)["counted"].runner == f"{effects[0]}:1"
    else:
        assert len(effects) == 2, "the control should show the job running twice"


def test_jobs_run_loop_stops_on_sigterm(app: Flask) -> None:
    """`jobs run --loop` as a service manager runs it: it runs what is due, then stops
    cleanly on SIGTERM."""
    database_url = app.config["DATABASE_URL"]  # its tables are made by the app fixture
    env = {"PORTAL_ENV": "test", "PORTAL_DATABASE_URL": database_url,
           "PORTAL_MAIL_URL": app.config["MAIL_URL"], "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "portal", "jobs", "run", "--loop",
         "--interval", "0.5"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.monotonic() + 30
        seen = ""
        while time.monotonic() < deadline and "payments checked" not in seen:
            line = process.stdout.readline() if process.stdout else ""
            if not line:
                break
            seen += line
        assert "Running periodic jobs as" in seen, seen
        assert "requests-expire: Expired 0 quotes." in seen, seen
        process.terminate()
        out, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, seen + out
    assert "Stopped." in out
