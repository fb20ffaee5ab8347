"""The back office's request queue: filters from the address bar, one page of requests.

Three queries a page whatever the number of rows: the counts per state, the total that
matches, and the page itself with its articles joined in.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, joinedload

from portal.articles.models import Article
from portal.db import escape_like
from portal.licensing import usage
from portal.licensing.lifecycle import RequestState
from portal.licensing.models import RepublishRequest

PAGE_SIZE = 50
#: what "open" means in the queue: a person still has to act
OPEN_STATES = (RequestState.SUBMITTED, RequestState.INFO_REQUESTED, RequestState.QUOTED,
               RequestState.AWAITING_PAYMENT)
SORTS = {
    "oldest": (RepublishRequest.created_at.asc(), RepublishRequest.id.asc()),
    "newest": (RepublishRequest.created_at.desc(), RepublishRequest.id.desc()),
    "updated": (RepublishRequest.updated_at.desc(), RepublishRequest.id.desc()),
}


def _date(text: str | None) -> date | None:
    try:
        parsed = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    # The last day there is cannot be the start of a "next day" bound.
    return parsed if parsed is None or parsed < date.max else None


@dataclass(frozen=True)
class QueueFilters:
    #: a state, "open" (the default) or "all"
    state: str = "open"
    medium: str = ""
    organisation_type: str = ""
    article_id: int | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    q: str = ""
    sort: str = "oldest"
    page: int = 1
    #: what could not be understood in the address, and was ignored
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Any) -> "QueueFilters":
        """Read the filters from the query string; anything not understood is ignored."""
        ignored: list[str] = []

        def pick(name: str, allowed: set[str], default: str = "") -> str:
            value = args.get(name, "", type=str)
            if value and value not in allowed:
                ignored.append(name)
                return default
            return value or default

        state = pick("state", {s.value for s in RequestState} | {"open", "all"}, "open")
        page = args.get("page", 1, type=int)
        article = args.get("article", None, type=int)
        start, end = _date(args.get("from")), _date(args.get("to"))
        for name, parsed in (("from", start), ("to", end)):
            if args.get(name) and parsed is None:
                ignored.append(name)
        return cls(
            state=state,
            medium=pick("medium", set(usage.MEDIA)),
            organisation_type=pick("organisation_type", set(usage.ORGANISATION_TYPES)),
            article_id=article if article and 0 < article < 2**31 else None,
            submitted_from=start,
            submitted_to=end,
            q=args.get("q", "", type=str).strip()[:200],
            sort=pick("sort", set(SORTS), "oldest"),
            page=min(max(page, 1), 100_000),
            ignored=ignored,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query string of these filters (with changes), for links."""
        changed = replace(self, **changes)
        values = {
            "state": changed.state if changed.state != "open" else None,
            "medium": changed.medium or None,
            "organisation_type": changed.organisation_type or None,
            "article": changed.article_id,
            "from": changed.submitted_from.isoformat() if changed.submitted_from else None,
            "to": changed.submitted_to.isoformat() if changed.submitted_to else None,
            "q": changed.q or None,
            "sort": changed.sort if changed.sort != "oldest" else None,
            "page": changed.page if changed.page != 1 else None,
        }
        return {key: value for key, value in values.items() if value is not None}

    def where(self, statement: Select[Any], *, with_state: bool = True) -> Select[Any]:
        r = RepublishRequest
        if with_state and self.state == "open":
            statement = statement.where(r.state.in_(OPEN_STATES))
        elif with_state and self.state != "all":
            statement = statement.where(r.state == RequestState(self.state))
        if self.medium:
            statement = statement.where(r.medium == self.medium)
        if self.organisation_type:
            statement = statement.where(r.organisation_type == self.organisation_type)
        if self.article_id:
            statement = statement.where(r.article_id == self.article_id)
        if self.submitted_from:
            statement = statement.where(
                r.created_at >= datetime.combine(self.submitted_from, time(), UTC))
        if self.submitted_to:
            statement = statement.where(
                r.created_at < datetime.combine(self.submitted_to + timedelta(days=1), time(), UTC))
        if self.q:
            like = "%" + escape_like(self.q) + "%"
            statement = statement.where(or_(
                r.reference.ilike(like, escape="\\"), r.organisation.ilike(like, escape="\\"),
                r.requester_email.ilike(like, escape="\\"), r.requester_name.ilike(like, escape="\\"),
                Article.title.ilike(like, escape="\\"),
            ))
        return statement


@dataclass(frozen=True)
class QueuePage:
    requests: list[RepublishRequest]
    total: int
    pages: int
    #: requests per state among those matching the other filters
    counts: dict[str, int]


def load_page(db: Session, filters: QueueFilters) -> QueuePage:
    base = select(RepublishRequest).join(Article, Article.id == RepublishRequest.article_id)
    count_rows = db.execute(
        filters.where(
            select(RepublishRequest.state, func.count())
            .join(Article, Article.id == RepublishRequest.article_id), with_state=False)
        .group_by(RepublishRequest.state)
    ).all()
    counts = {state.value: 0 for state in RequestState}
    counts.update({state.value: n for state, n in count_rows})
    filtered = filters.where(base)
    total = db.scalar(select(func.count()).select_from(filtered.subquery())) or 0
    rows = db.scalars(
        filtered.options(joinedload(RepublishRequest.article))
        .order_by(*SORTS[filters.sort])
        .limit(PAGE_SIZE)
        .offset((filters.page - 1) * PAGE_SIZE)
    ).all()
    return QueuePage(requests=list(rows), total=total, pages=max(1, -(-total // PAGE_SIZE)),
                     counts=counts)
