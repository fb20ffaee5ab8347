"""`flask --app portal jobs run [--loop]`: the periodic jobs, from one entry point; and
`jobs list`: when each last ran and how it went."""

import signal
import threading

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal import db as database
from portal.db import utcnow
from portal.jobs.models import JobRun
from portal.jobs.runner import next_due, run_due, runner_name
from portal.jobs.schedule import JOBS

jobs_cli = AppGroup("jobs", help="Periodic jobs (expiries, reminders, reconciliation).")
NAMES = [job.name for job in JOBS]


def _say(line: str, problem: bool) -> None:
    click.echo(line, err=problem)


def _pass(only: tuple[str, ...]) -> bool:
    """Run what is due in a session of its own; True when nothing failed."""
    with database.database().sessionmaker() as db:
        ran = run_due(db, _say, only=only)
    return all(r.succeeded for r in ran)


@jobs_cli.command("run")
@click.option("--loop", is_flag=True, help="Keep running jobs as they fall due, until "
              "Ctrl-C or SIGTERM.")
@click.option("--only", multiple=True, type=click.Choice(NAMES),
              help="Run only this job (repeatable).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="With --loop: the longest wait between looks at the schedule, in seconds.")
def run(loop: bool, only: tuple[str, ...], interval: float) -> None:
    """Run the jobs that are due. Each job runs once per period, however many hosts run
    this command at the same time."""
    if not loop:
        ok = _pass(only)
        if not ok:
            raise SystemExit(1)
        return
    click.echo(f"Running periodic jobs as {runner_name()}: "
               + ", ".join(f"{job.name} every {job.every}" for job in JOBS
                           if not only or job.name in only))
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        while not stop.is_set():
            _pass(only)
            wait = min(interval, max(0.1, next_due(utcnow()).total_seconds()))
            if stop.wait(wait):
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("Stopped.")


@jobs_cli.command("list")
def list_jobs() -> None:
    """Each job: how often it runs, and its last run."""
    db = database.session()
    runs = {r.name: r for r in db.scalars(select(JobRun))}
    for job in JOBS:
        last = runs.get(job.name)
        if last is None or last.started_at is None:
            status = "never ran"
        elif last.succeeded is None:
            status = f"started {last.started_at:%Y-%m-%d %H:%M:%S} UTC on {last.runner}, " \
                     "not finished"
        else:
            status = (f"{'ok' if last.succeeded else 'FAILED'} at "
                      f"{last.finished_at:%Y-%m-%d %H:%M:%S} UTC on {last.runner}: "
                      f"{last.outcome}")
        click.echo(f"{job.name:20} every {str(job.every):9} {status}")
        click.echo(f"{'':20} {job.about}")
