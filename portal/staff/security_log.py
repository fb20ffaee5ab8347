"""The security log as admins read it: filters from the address bar, newest first, one page
at a time by "older than event N" (no OFFSET and no COUNT, however long the log grows)."""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from portal.db import escape_like
from portal.security_events import CATEGORIES, KINDS, SecurityEvent
from portal.staff.models import StaffUser

PAGE_SIZE = 100


def _date(text: str | None) -> date | None:
    try:
        parsed = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return parsed if parsed is None or date.min < parsed < date.max else None


@dataclass(frozen=True)
class LogFilters:
    #: a key of CATEGORIES, or ""
    category: str = ""
    #: a key of KINDS, or ""
    kind: str = ""
    #: part of the actor, address, target or detail
    q: str = ""
    since: date | None = None
    until: date | None = None
    #: show events older than this id (the next page)
    before: int | None = None
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Any) -> "LogFilters":
        ignored: list[str] = []
        category = args.get("category", "", type=str)
        if category and category not in CATEGORIES:
            ignored.append("category")
            category = ""
        kind = args.get("kind", "", type=str)
        if kind and kind not in KINDS:
            ignored.append("kind")
            kind = ""
        since, until = _date(args.get("from")), _date(args.get("to"))
        for name, parsed in (("from", since), ("to", until)):
            if args.get(name) and parsed is None:
                ignored.append(name)
        before = args.get("before", None, type=int)
        return cls(category=category, kind=kind, q=args.get("q", "", type=str).strip()[:200],
                   since=since, until=until,
                   before=before if before and 0 < before < 2**62 else None, ignored=ignored)

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string of these filters (with changes), for links."""
        changed = replace(self, **changes)
        values = {
            "category": changed.category or None, "kind": changed.kind or None,
            "q": changed.q or None,
            "from": changed.since.isoformat() if changed.since else None,
            "to": changed.until.isoformat() if changed.until else None,
            "before": changed.before,
        }
        return {key: value for key, value in values.items() if value is not None}

    @property
    def active(self) -> bool:
        return bool(self.category or self.kind or self.q or self.since or self.until)

    def where(self, statement: Select[Any]) -> Select[Any]:
        e = SecurityEvent
        if self.kind:
            statement = statement.where(e.kind == self.kind)
        elif self.category:
            statement = statement.where(e.kind.in_(
                [kind for kind, known in KINDS.items() if known.category == self.category]))
        if self.since:
            statement = statement.where(e.created_at >= datetime.combine(self.since, time(), UTC))
        if self.until:
            statement = statement.where(
                e.created_at < datetime.combine(self.until + timedelta(days=1), time(), UTC))
        if self.q:
            like = "%" + escape_like(self.q) + "%"
            statement = statement.where(or_(*(
                column.ilike(like, escape="\\")
                for column in (e.actor, e.ip, e.target, e.detail))))
        if self.before:
            statement = statement.where(e.id < self.before)
        return statement


@dataclass(frozen=True)
class LogPage:
    events: list[SecurityEvent]
    #: the id to ask for the next (older) page with, or None at the end
    older: int | None
    #: "staff:<id>" -> the staff member's e-mail address, for the actors on this page
    staff: dict[str, str]


def load_page(db: Session, filters: LogFilters) -> LogPage:
    """One page of events, newest first; two queries."""
    rows = list(db.scalars(
        filters.where(select(SecurityEvent))
        .order_by(SecurityEvent.id.desc()).limit(PAGE_SIZE + 1)))
    events, more = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    ids = {int(event.actor.removeprefix("staff:")) for event in events
           if event.actor.startswith("staff:") and event.actor[6:].isdigit()
           and int(event.actor[6:]) < 2**31}
    staff = {user.actor: user.email for user in db.scalars(
        select(StaffUser).where(StaffUser.id.in_(ids)))} if ids else {}
    return LogPage(events=events, older=events[-1].id if more else None, staff=staff)
