"""The licensed copy's tracking image counts readers, and staff read the counts.

The image is always a 1×1 GIF, whatever happens; a view is counted once per reader per
30 minutes with its referring page (query dropped) and UTC day; bots, unknown keys and the
portal's own pages count nothing; staff see totals, days, pages and two warnings.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.licences import tracking
from portal.licences.models import Licence
from portal.licences.tracking import PIXEL, LicenceView
from portal.licensing.models import RepublishRequest
from portal.staff.models import StaffRole
from portal.workflows import decisions
from tests.factories import make_request
from tests.staff_fixtures import StaffLogin

BROWSER = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
           "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
OTHER_BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                 "Gecko) Chrome/131.0.0.0 Safari/537.36")
START = datetime(2026, 3, 10, 10, 5, tzinfo=UTC)


@dataclass
class Issued:
    id: int
    number: str
    key: str
    reference: str


class Clock:
    """tracking.clock(), moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moving = Clock(START)
    monkeypatch.setattr(tracking, "clock", moving)
    return moving


def issue_licence(app: Flask, db: Session, **changes: object) -> Issued:
    """A request approved free of charge, so that it has its licence."""
    made = make_request(app, db, **changes)
    with app.test_request_context():
        session = app.extensions["portal.db"].sessionmaker()
        row = session.get(RepublishRequest, made.id)
        assert row is not None
        decisions.approve_free(session, row.id, actor="staff:1", note=None,
                               expected_version=None)
        session.commit()
        licence = session.scalar(select(Licence).where(Licence.request_id == made.id))
        assert licence is not None
        issued = Issued(licence.id, licence.number, licence.tracking_key, row.reference)
        session.close()
    return issued


@pytest.fixture
def licence(app: Flask, db: Session) -> Issued:
    return issue_licence(app, db)


def view(client: FlaskClient, key: str, *, referrer: str | None = None,
         user_agent: str | None = BROWSER, address: str = "203.0.113.7",
         method: str = "GET") -> TestResponse:
    headers = {}
    if referrer is not None:
        headers["Referer"] = referrer
    if user_agent is not None:
        headers["User-Agent"] = user_agent
    return client.open(f"/t/{key}.gif", method=method, headers=headers,
                       environ_base={"REMOTE_ADDR": address})


def stored(db: Session) -> list[LicenceView]:
    rows = list(db.scalars(select(LicenceView).order_by(LicenceView.viewed_at)))
    db.rollback()  # end the read: the next one sees what requests committed since
    return rows


def assert_is_the_image(response: TestResponse) -> None:
    assert response.status_code == 200
    assert response.data == PIXEL
    assert response.headers["Content-Type"] == "image/gif"
    assert response.headers["Content-Length"] == "43"
    assert response.headers["Cache-Control"] == "no-store, private"
    assert "Set-Cookie" not in response.headers


# --- the image ------------------------------------------------------------------------------

def test_the_image_is_a_transparent_one_pixel_gif() -> None:
    assert len(PIXEL) == 43
    assert PIXEL[:6] == b"GIF89a"
    assert PIXEL[6:10] == b"\x01\x00\x01\x00"  # 1 × 1
    graphic_control = PIXEL.index(b"\x21\xf9\x04")
    assert PIXEL[graphic_control + 3] & 1  # a transparent colour is set
    assert PIXEL[graphic_control + 6] == 0  # ... and it is colour 0, the pixel's colour
    assert PIXEL.endswith(b";")


def test_image_answers_with_no_store_and_no_cookie(client: FlaskClient, licence: Issued,
                                                   clock: Clock) -> None:
    assert_is_the_image(view(client, licence.key))
    assert_is_the_image(view(client, "no-such-key"))
    assert client.get_cookie("session") is None


# --- counting -------------------------------------------------------------------------------

def test_a_view_is_counted_with_its_page_without_query_and_its_day(
    client: FlaskClient, db: Session, licence: Issued, clock: Clock
) -> None:
    response = view(client, licence.key,
                    referrer="https://www.gazette.example/2026/03/wind-farm?utm_source=x#comments")
    assert_is_the_image(response)
    [row] = stored(db)
    assert row.licence_id == licence.id
    assert row.referrer == "https://www.gazette.example/2026/03/wind-farm"
    assert row.day == START.date()
    assert row.viewed_at == START
    # The reader is an opaque hash: neither the address nor the browser is kept.
    assert len(row.reader_hash) == 32 and "203.0.113.7" not in row.reader_hash


@pytest.mark.parametrize("referrer, kept", [
    (None, "(direct or hidden)"),
    ("", "(direct or hidden)"),
    ("not a url", "(direct or hidden)"),
    ("https://user:secret@Gazette.Example:8443/a/b?q=1", "https://gazette.example:8443/a/b"),
    ("https://gazette.example", "https://gazette.example/"),
    ("https://gazette.example/" + "x" * 600, ("https://gazette.example/" + "x" * 600)[:500]),
])
def test_referrers_are_kept_as_scheme_host_and_path(
    client: FlaskClient, db: Session, licence: Issued, clock: Clock,
    referrer: str | None, kept: str
) -> None:
    view(client, licence.key, referrer=referrer)
    assert [row.referrer for row in stored(db)] == [kept]


@pytest.mark.parametrize("user_agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "Wget/1.21.3",
    "python-requests/2.32.3",
    "",  # no User-Agent at all reads as an empty one
])
def test_bots_and_scripts_are_not_counted(client: FlaskClient, db: Session, licence: Issued,
                                          clock: Clock, user_agent: str) -> None:
    assert_is_the_image(view(client, licence.key, user_agent=user_agent,
                             referrer="https://www.gazette.example/a"))
    assert stored(db) == []


def test_a_repeat_within_30_minutes_is_folded_and_one_after_is_counted(
    client: FlaskClient, db: Session, licence: Issued, clock: Clock
) -> None:
    view(client, licence.key)
    clock.advance(minutes=10)
    view(client, licence.key)
    clock.advance(minutes=19, seconds=59)  # 29:59 after the counted view, in the next slot
    view(client, licence.key)
    assert len(stored(db)) == 1
    clock.advance(seconds=2)  # 30:01 after it
    view(client, licence.key)
    clock.advance(minutes=5)
    view(client, licence.key)  # within 30 minutes of the second counted view
    assert [row.viewed_at - START for row in stored(db)] == [
        timedelta(0), timedelta(minutes=30, seconds=1)]


def test_other_readers_and_other_licences_are_counted_apart(
    app: Flask, client: FlaskClient, db: Session, licence: Issued, clock: Clock
) -> None:
    second = issue_licence(app, db, requester_email="ola@fjord.example")
    view(client, licence.key)
    view(client, licence.key, address="198.51.100.9")
    view(client, licence.key, user_agent=OTHER_BROWSER)
    view(client, second.key)
    counted = sorted((row.licence_id, row.reader_hash) for row in stored(db))
    assert [licence_id for licence_id, _ in counted] == sorted(
        [licence.id, licence.id, licence.id, second.id])
    assert len({reader for licence_id, reader in counted if licence_id == licence.id}) == 3


def test_folding_holds_across_midnight(client: FlaskClient, db: Session, licence: Issued,
                                       clock: Clock) -> None:
    clock.now = datetime(2026, 3, 10, 23, 50, tzinfo=UTC)
    view(client, licence.key)
    clock.now = datetime(2026, 3, 11, 0, 10, tzinfo=UTC)
    view(client, licence.key)
    clock.now = datetime(2026, 3, 11, 0, 21, tzinfo=UTC)
    view(client, licence.key)
    assert [row.day.isoformat() for row in stored(db)] == ["2026-03-10", "2026-03-11"]


def test_unknown_keys_head_requests_and_the_portals_own_pages_count_nothing(
    client: FlaskClient, db: Session, licence: Issued, clock: Clock
) -> None:
    assert_is_the_image(view(client, "no-such-key"))
    assert_is_the_image(view(client, "x" * 200))
    assert_is_the_image(view(client, "bad key!"))
    head = view(client, licence.key, method="HEAD")
    assert head.status_code == 200 and head.headers["Content-Type"] == "image/gif"
    # a preview of the licensed copy on the portal itself (BASE_URL is http://localhost)
    assert_is_the_image(view(client, licence.key, referrer="http://localhost/licences/x"))
    assert stored(db) == []


def test_the_image_is_served_when_the_database_is_down(
    app: Flask, client: FlaskClient, db: Session, licence: Issued, clock: Clock,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    database = app.extensions["portal.db"]
    working = database.engine
    broken = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}")
    monkeypatch.setattr(database, "engine", broken)
    seconds = [1000.0]
    monkeypatch.setattr(tracking, "monotonic", lambda: seconds[0])

    with caplog.at_level(logging.WARNING, logger="portal.licences.tracking"):
        for _ in range(3):
            assert_is_the_image(view(client, licence.key))
    warnings = [r for r in caplog.records if r.name == "portal.licences.tracking"]
    assert len(warnings) == 1 and "not recorded" in warnings[0].getMessage()

    # Back up: the next view after the pause is counted again.
    monkeypatch.setattr(database, "engine", working)
    broken.dispose()
    assert_is_the_image(view(client, licence.key))
    assert stored(db) == []  # still resting after the failure
    seconds[0] += tracking.BACKOFF_SECONDS + 1
    assert_is_the_image(view(client, licence.key))
    assert len(stored(db)) == 1


def test_any_error_while_counting_still_gives_the_image(
    client: FlaskClient, licence: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("table licence_views is gone")

    monkeypatch.setattr(tracking, "record_view", explode)
    assert_is_the_image(view(client, licence.key))
    monkeypatch.setattr(tracking, "clean_referrer", explode)  # even a bug in the view
    assert_is_the_image(view(client, licence.key, referrer="https://a.example/"))


# --- what staff see -------------------------------------------------------------------------

def readers(client: FlaskClient, key: str, referrer: str, count: int, first: int = 1) -> None:
    for number in range(first, first + count):
        view(client, key, referrer=referrer, address=f"192.0.2.{number}")


def test_staff_see_totals_days_pages_and_both_warnings(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin, licence: Issued,
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The request asked for https://www.gazette.example, audience 10,000 to 100,000.
    readers(client, licence.key, "https://www.gazette.example/2026/wind?ref=home", 3)
    readers(client, licence.key, "https://gazette.example/amp/wind", 1, first=10)
    readers(client, licence.key, "https://copycat.example/stolen/wind", 2, first=20)
    clock.advance(days=-2)
    readers(client, licence.key, "", 1, first=30)
    clock.advance(days=-40)
    readers(client, licence.key, "https://www.gazette.example/2026/wind", 1, first=40)
    monkeypatch.setitem(tracking.AUDIENCE_LIMITS, "10k_100k", 6)  # 7 in 30 days is over
    clock.now = START

    staff_login(StaffRole.VIEWER)
    page = client.get(f"/staff/licences/{licence.number}/views")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"Readership of {licence.number}" in text
    assert "<dt>All time</dt><dd>8</dd>" in text
    assert "<dt>Last 30 days</dt><dd>7" in text
    assert '<span class="ref">https://www.gazette.example/2026/wind</span></td><td class="num">4<' in text
    assert "copycat.example/stolen/wind</span> <span class=\"tag tag-alert\">other site" in text
    assert "gazette.example/amp/wind</span></td>" in text  # no www. is the same site
    assert "(direct or hidden)" in text
    assert "More readers than the licence covers" in text
    assert "7 views in the last 30 days" in text
    assert "Read on other sites" in text
    assert "2 of the views came from pages not on gazette.example" in text
    assert "10 Mar 2026" in text and "8 Mar 2026" in text

    summary = readership_summary_of(app, licence)
    assert summary["per_day"][0] == (START.date(), 6)
    assert summary["per_day"][2] == (START.date() - timedelta(days=2), 1)
    assert len(summary["per_day"]) == 30
    assert summary["off_site_hosts"] == [("copycat.example", 2)]


def readership_summary_of(app: Flask, licence: Issued) -> dict[str, object]:
    with app.app_context():
        session = app.extensions["portal.db"].sessionmaker()
        row = session.get(Licence, licence.id)
        assert row is not None
        summary = tracking.readership_summary(session, row, today=START.date())
        session.close()
    return summary


def test_staff_page_is_calm_within_the_licence(
    client: FlaskClient, staff_login: StaffLogin, licence: Issued, clock: Clock
) -> None:
    readers(client, licence.key, "https://www.gazette.example/wind", 2)
    staff_login(StaffRole.VIEWER)
    text = client.get(f"/staff/licences/{licence.number}/views").get_data(as_text=True)
    assert "More readers than" not in text and "Read on other sites" not in text
    assert "every view with a known referring page came from it" in text
    assert "the audience band goes up to 100,000 a month" in text


def test_staff_are_told_when_there_is_no_site_to_compare_with(
    client: FlaskClient, db: Session, staff_login: StaffLogin, licence: Issued, clock: Clock
) -> None:
    db.execute(update(RepublishRequest).where(RepublishRequest.reference == licence.reference)
               .values(publication_url=None))
    db.commit()
    readers(client, licence.key, "https://anywhere.example/wind", 1)
    staff_login(StaffRole.VIEWER)
    text = client.get(f"/staff/licences/{licence.number}/views").get_data(as_text=True)
    assert "The request gave no publication URL" in text
    assert "Read on other sites" not in text


def test_the_readership_page_is_for_signed_in_staff(
    client: FlaskClient, staff_login: StaffLogin, licence: Issued
) -> None:
    url = f"/staff/licences/{licence.number}/views"
    anonymous = client.get(url)
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["Location"].startswith("/staff/login?next=")
    staff_login(StaffRole.VIEWER)
    assert client.get(url).status_code == 200
    assert client.get("/staff/licences/LIC-2026-999999/views").status_code == 404


def test_audience_limits_follow_the_bands() -> None:
    from portal.licensing.usage import AUDIENCE_BANDS

    assert set(tracking.AUDIENCE_LIMITS) == set(AUDIENCE_BANDS)
    assert tracking.AUDIENCE_LIMITS["under_10k"] == 10_000
    assert tracking.AUDIENCE_LIMITS["1m_10m"] == 10_000_000
    assert tracking.AUDIENCE_LIMITS["over_10m"] is None
