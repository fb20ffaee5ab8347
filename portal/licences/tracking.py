"""Readership of licensed copies: the tracking image (/t/<key>.gif) and what staff read from it.

Every licensed copy carries a 1×1 image unique to its licence. Each time a reader's browser
fetches it, the portal counts a view of that licence: the referring page, the day, and an
opaque reader hash. Bots are not counted, and one reader is counted at most once per
30 minutes.

The image is the only hot path that grows with the readers of republished copies, so it costs
one INSERT statement and nothing else: no ORM objects, no session, no cookie. Folding repeats
is done by the table itself, so it holds across processes and hosts:

* one row per *counted* view, with primary key (licence, reader, 30-minute slot), written with
  INSERT ... SELECT ... ON CONFLICT DO NOTHING: a second view in the same slot is a no-op;
* the SELECT finds the licence by its tracking key (the unique index; an unknown key selects
  nothing and stores nothing) and skips the view when the reader's row of the slot before
  was counted less than 30 minutes ago. The window therefore slides: a repeat within
  30 minutes of the counted view is folded, wherever the slot boundary falls.

The reader hash is HMAC-SHA256(SECRET_KEY, day | client address | User-Agent), cut to
128 bits: the address is never stored, and the same reader cannot be followed from one day
to the next. (For views in the first slot of a day, the previous slot's row is looked up with
the previous day's hash, so folding holds across midnight too.)

Whatever goes wrong (unknown key, database down, a broken table), the reader gets the image:
a failure is logged at most once a minute, and the database is left alone for a few
seconds after one, so an outage does not make every page that embeds the image wait.
"""

import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import (
    ForeignKey,
    Index,
    Insert,
    String,
    bindparam,
    desc,
    exists,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from portal import db as database
from portal.db import Base, UTCDateTime, utcnow
from portal.extensions import limiter
from portal.licences.models import Licence

log = logging.getLogger(__name__)

#: a transparent 1×1 GIF (43 bytes): two-colour palette, colour 0 transparent
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
#: repeats by one reader within this long are one view
FOLD_WINDOW = timedelta(minutes=30)
#: what a view without a usable Referer header is filed under
NO_REFERRER = "(direct or hidden)"
REFERRER_MAX_LENGTH = 500
#: after a failed write, the image is served without touching the database for this long
BACKOFF_SECONDS = 5.0
#: a failure is logged at most this often (with how many were not logged since)
LOG_EVERY_SECONDS = 60.0

# Conservative on purpose: a word here that a real browser's User-Agent contained would hide
# real readers. An empty User-Agent is a script too.
_BOT_USER_AGENT = re.compile(
    r"bot|crawl|spider|slurp|facebookexternalhit|preview|curl|wget|python-requests|"
    r"python-urllib|aiohttp|httpx|go-http-client|java/|libwww|apache-httpclient|"
    r"headless|phantomjs|lighthouse|pingdom|uptime|monitor|scrapy|feedfetcher|mediapartners",
    re.IGNORECASE,
)
# The tracking keys the portal makes (secrets.token_urlsafe(16)); anything else is not
# worth a query.
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

#: the licensed audience bands' upper bounds (portal.licensing.usage.AUDIENCE_BANDS), as
#: monthly readers; None: no upper bound
AUDIENCE_LIMITS: dict[str, int | None] = {
    "under_10k": 10_000,
    "10k_100k": 100_000,
    "100k_1m": 1_000_000,
    "1m_10m": 10_000_000,
    "over_10m": None,
}

# SQLite lets one writer at a time. Threads of one process queue here, in order, rather than
# in SQLite's busy handler, which sleeps in growing steps and lets latecomers overtake.
_WRITE_LOCKS: dict[str, AbstractContextManager[Any]] = {"sqlite": threading.Lock()}

_INSERTS: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert,
}


class LicenceView(Base):
    """One counted view of a licensed copy (repeats folded, bots left out)."""

    __tablename__ = "licence_views"

    licence_id: Mapped[int] = mapped_column(ForeignKey("licences.id"), primary_key=True)
    #: HMAC of the day, client address and User-Agent: tells repeats apart, names nobody
    reader_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the start of the 30-minute slot the view fell in: one counted view per reader per slot
    slot_start: Mapped[datetime] = mapped_column(primary_key=True)
    #: when the view was counted (the 30-minute fold window starts here)
    viewed_at: Mapped[datetime]
    #: the UTC day of viewed_at, for views per day on either database
    day: Mapped[date]
    #: the referring page: scheme, host and path only, or NO_REFERRER
    referrer: Mapped[str] = mapped_column(String(REFERRER_MAX_LENGTH))

    __table_args__ = (
        Index("ix_licence_views_licence_id_day", "licence_id", "day"),
    )


# --- the hot path ---------------------------------------------------------------------------

def clock() -> datetime:
    """Now, in UTC (the tests move it)."""
    return utcnow()


def monotonic() -> float:
    return time.monotonic()


def is_bot(user_agent: str) -> bool:
    return not user_agent.strip() or _BOT_USER_AGENT.search(user_agent) is not None


def clean_referrer(referrer: str | None) -> str:
    """The referring page as kept: scheme://host[:port]/path, no user, query or fragment."""
    if not referrer:
        return NO_REFERRER
    try:
        parts = urlsplit(_CONTROL_CHARACTERS.sub("", referrer.strip()))
        host = parts.hostname
        port = parts.port
    except ValueError:
        return NO_REFERRER
    if not parts.scheme or not host:
        return NO_REFERRER
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme.lower()}://{netloc}{parts.path or '/'}"[:REFERRER_MAX_LENGTH]


def site_host(url: str | None) -> str | None:
    """The host of a URL as sites are compared: lowercase, without a leading "www."."""
    if not url or url == NO_REFERRER:
        return None
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.removeprefix("www.")


@lru_cache(maxsize=8)
def _portal_host(base_url: str) -> str | None:
    return site_host(base_url)


def slot_of(moment: datetime) -> datetime:
    """The start of the 30-minute slot `moment` falls in (slots start on the hour and half)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)


def reader_hash(secret: str, day: date, address: str, user_agent: str) -> str:
    message = f"{day.isoformat()}\n{address}\n{user_agent}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


@lru_cache(maxsize=4)
def _record_statement(dialect: str) -> Insert:
    """INSERT one counted view unless the reader was counted in the last 30 minutes.

    Built once per dialect and run with parameters, so SQLAlchemy's compiled cache serves it.
    """
    earlier = aliased(LicenceView, name="earlier")
    counted_just_before = exists().where(
        earlier.licence_id == Licence.id,
        earlier.reader_hash == bindparam("previous_hash", type_=String()),
        earlier.slot_start == bindparam("previous_slot", type_=UTCDateTime()),
        earlier.viewed_at > bindparam("since", type_=UTCDateTime()),
    )
    source = select(
        Licence.id,
        bindparam("reader_hash", type_=String()),
        bindparam("slot_start", type_=UTCDateTime()),
        bindparam("viewed_at", type_=UTCDateTime()),
        bindparam("day", type_=LicenceView.__table__.c.day.type),
        bindparam("referrer", type_=String()),
    ).where(Licence.tracking_key == bindparam("key", type_=String()), ~counted_just_before)
    columns = ["licence_id", "reader_hash", "slot_start", "viewed_at", "day", "referrer"]
    statement: Insert = (
        _INSERTS[dialect](LicenceView).from_select(columns, source).on_conflict_do_nothing()
    )
    return statement


def record_view(engine: Any, secret: str, key: str, *, address: str, user_agent: str,
                referrer: str, now: datetime) -> None:
    """Count one view of the licence whose tracking key is `key` (in its own transaction)."""
    slot = slot_of(now)
    previous_slot = slot - FOLD_WINDOW
    current = reader_hash(secret, slot.date(), address, user_agent)
    previous = (current if previous_slot.date() == slot.date()
                else reader_hash(secret, previous_slot.date(), address, user_agent))
    dialect = engine.dialect.name
    with _WRITE_LOCKS.get(dialect, nullcontext()), engine.begin() as connection:
        connection.execute(_record_statement(dialect), {
            "key": key,
            "reader_hash": current,
            "slot_start": slot,
            "viewed_at": now,
            "day": now.astimezone(UTC).date(),
            "referrer": referrer,
            "previous_hash": previous,
            "previous_slot": previous_slot,
            "since": now - FOLD_WINDOW,
        })


@dataclass
class _Health:
    """Per app: whether the last write failed, and when a failure was last logged."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    resting_until: float = 0.0
    logged_at: float | None = None
    unlogged: int = 0

    def failed(self, error: Exception) -> None:
        now = monotonic()
        with self.lock:
            self.resting_until = now + BACKOFF_SECONDS
            if self.logged_at is not None and now - self.logged_at < LOG_EVERY_SECONDS:
                self.unlogged += 1
                return
            self.logged_at, unlogged, self.unlogged = now, self.unlogged, 0
        # The first line only: SQLAlchemy's further lines hold the statement and parameters.
        text = str(error).strip().splitlines()[0][:300] if str(error).strip() else ""
        log.warning("tracking image: a view was not recorded (%s: %s); %d more failures not "
                    "logged since the last warning", type(error).__name__, text, unlogged)

    def is_resting(self) -> bool:
        return monotonic() < self.resting_until


bp = Blueprint("tracking", __name__)


@bp.record_once
def _set_up(state: BlueprintSetupState) -> None:
    state.app.extensions["portal.tracking"] = _Health()


def _image() -> Response:
    response = Response(PIXEL, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, private"
    return response


def _count(key: str) -> None:
    """Record the view this request is, unless it is not one (a bot, HEAD, the portal's own
    page, a key the portal never made)."""
    if request.method != "GET" or not _KEY.match(key):
        return
    user_agent = request.headers.get("User-Agent", "")
    if is_bot(user_agent):
        return
    referrer = clean_referrer(request.headers.get("Referer"))
    # The portal's own pages (a preview of the licensed copy) are not readership.
    here = _portal_host(current_app.config["BASE_URL"])
    if here is not None and site_host(referrer) == here:
        return
    record_view(database.database().engine, str(current_app.config["SECRET_KEY"]), key,
                address=request.remote_addr or "", user_agent=user_agent, referrer=referrer,
                now=clock())


@bp.get("/t/<key>.gif")
@limiter.exempt
def pixel(key: str) -> Response:
    """The tracking image: always the image, whatever happens to the count."""
    health: _Health = current_app.extensions.setdefault("portal.tracking", _Health())
    if not health.is_resting():
        try:
            _count(key)
        except Exception as error:  # noqa: BLE001 - the database, or a bug: the reader still gets the image
            health.failed(error)
    return _image()


# --- what staff read ------------------------------------------------------------------------

def audience_limit(band: str) -> int | None:
    return AUDIENCE_LIMITS.get(band)


def readership_summary(db: Session, licence: Licence, *, today: date | None = None,
                       referrer_rows: int = 50) -> dict[str, Any]:
    """The licence's readership, and what in it may be use beyond the licence.

    Keys: total, last_30_days, per_day [(day, views)] for the last 30 days, newest first,
    referrers [(page, views, is_off_site)] top `referrer_rows`, audience_band,
    audience_limit, is_over_audience, publication_url, publication_host, off_site_views,
    off_site_hosts [(host, views)], is_off_site.
    """
    today = today or clock().date()
    first_day = today - timedelta(days=29)
    of_licence = LicenceView.licence_id == licence.id

    total = db.scalar(select(func.count()).select_from(LicenceView).where(of_licence)) or 0
    by_day: dict[date, int] = {
        day: views for day, views in db.execute(
            select(LicenceView.day, func.count())
            .where(of_licence, LicenceView.day >= first_day, LicenceView.day <= today)
            .group_by(LicenceView.day)
        )
    }
    per_day = [(day, by_day.get(day, 0))
               for day in (today - timedelta(days=n) for n in range(30))]
    last_30_days = sum(views for _day, views in per_day)

    # Every referring page is read, not only the top ones, so that off-site use anywhere
    # is counted; a licence has as many of them as pages that embed its copy.
    views_count = func.count().label("views")
    pages = db.execute(
        select(LicenceView.referrer, views_count).where(of_licence)
        .group_by(LicenceView.referrer).order_by(desc(views_count), LicenceView.referrer)
    ).all()
    publication_url = licence.request.publication_url
    home = site_host(publication_url)
    off_site: dict[str, int] = {}
    referrers: list[tuple[str, int, bool]] = []
    for page, views in pages:
        host = site_host(page)
        is_off = home is not None and host is not None and host != home
        if is_off and host is not None:
            off_site[host] = off_site.get(host, 0) + views
        if len(referrers) < referrer_rows:
            referrers.append((page, views, is_off))

    limit = audience_limit(licence.audience_band)
    return {
        "total": total,
        "last_30_days": last_30_days,
        "per_day": per_day,
        "busiest_day_views": max((views for _day, views in per_day), default=0),
        "referrers": referrers,
        "referrer_pages": len(pages),
        "audience_band": licence.audience_band,
        "audience_limit": limit,
        "is_over_audience": limit is not None and last_30_days > limit,
        "publication_url": publication_url,
        "publication_host": home,
        "off_site_views": sum(off_site.values()),
        "off_site_hosts": sorted(off_site.items(), key=lambda item: (-item[1], item[0])),
        "is_off_site": bool(off_site),
    }
