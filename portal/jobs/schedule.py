"""The periodic jobs, as a table: what runs, how often, and what it does (the work itself
is in portal/workflows/periodic.py)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from portal.workflows.periodic import (
    Say,
    expire_and_remind_licences,
    expire_requests,
    reconcile_payments,
)


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[Session, Say], str]
    about: str


JOBS: tuple[Job, ...] = (
    Job("requests-expire", timedelta(minutes=5), expire_requests,
        "expire quotes whose validity ended, and tell the requesters"),
    Job("licences-expire", timedelta(hours=1), expire_and_remind_licences,
        "expire licences whose term ended; remind those ending within 14 days"),
    Job("payments-reconcile", timedelta(minutes=15), reconcile_payments,
        "catch up with the payment provider; close checkouts never recorded"),
)
