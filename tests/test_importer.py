"""The feed importer, its sanitiser and URL keys, and `flask articles import`.

The feeds in tests/feeds/ are invented Northern Ledger stories in each supported format, plus
broken and hostile documents; a few variations are written on the fly into tmp_path.
"""

import json
import re
import socket
import threading
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, Tag
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import urls
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.articles import importer
from portal.articles.importer import (
    FeedError,
    ImportReport,
    import_feed,
    refused_address,
    slugify,
)
from portal.articles.models import Article, ArticleRevision, Asset
from portal.articles.sanitise import (
    ALLOWED_ATTRIBUTES,
    clean_article_html,
    sanitise_html,
)
from portal.articles.urls import normalise_url
from portal.uow import unit_of_work as transaction

FEEDS = Path(__file__).parent / "feeds"
Importer = Callable[..., ImportReport]


@pytest.fixture
def run_import(app: Flask) -> Importer:
    """Imports a feed the way the CLI does: in an app context, one transaction committed at
    the end. Tests look at the result through `db`, a session of their own."""

    def run(source: str | Path, *, max_bytes: int = 1_000_000, timeout: float = 5,
            allow_private_addresses: bool = True) -> ImportReport:
        # The feed server is on 127.0.0.1: allowed here, refused by default (see the tests of
        # private addresses below).
        with app.app_context(), transaction() as session:
            return import_feed(
                session,
                str(source),
                agencies=app.config["AGENCY_CREDITS"],
                max_bytes=max_bytes,
                timeout=timeout,
                allow_private_addresses=allow_private_addresses,
            )

    return run


def counts(db: Session) -> tuple[int, int, int]:
    """(articles, revisions, assets) in the database."""
    articles, revisions, assets = (
        db.scalar(select(func.count()).select_from(model)) or 0
        for model in (Article, ArticleRevision, Asset)
    )
    return articles, revisions, assets


def article(db: Session, guid: str) -> Article:
    """The article with GUID as the database holds it now."""
    db.expire_all()
    found = db.scalar(select(Article).where(Article.guid == guid))
    assert found is not None, f"no article with guid {guid}"
    return found


def write_variant(tmp_path: Path, name: str, *replacements: tuple[str, str]) -> Path:
    """A copy of tests/feeds/NAME with each (old, new) replaced (and each old present)."""
    text = (FEEDS / name).read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- each format ----------------------------------------------------------------------------


def test_rss_with_content_encoded(run_import: Importer, db: Session) -> None:
    report = run_import(FEEDS / "ledger.rss")

    assert report.imported == [
        "Harbour town votes to buy its offshore wind farm",
        "Ferry strike enters its second week",
        "Apple growers count cost of late frost",
    ]
    assert (report.updated, report.skipped) == ([], [])
    wind = article(db, "ledger-2025-11-0412")
    assert wind.slug == "harbour-town-votes-to-buy-its-offshore-wind-farm"
    assert wind.canonical_url.startswith("https://www.northernledger.example/2025/11/harbour-wind")
    assert wind.url_key == "https://northernledger.example/2025/11/harbour-wind-vote"
    assert wind.byline == "Maren Holt"
    assert wind.summary.startswith("Residents of Skarholm backed a community stake")
    # +0100 in the feed, UTC in the database
    assert wind.published_at == datetime(2025, 11, 18, 7, 30, tzinfo=UTC)
    assert wind.published_at.utcoffset() is not None and not wind.published_at.utcoffset()
    assert wind.source_updated_at is None  # RSS gave no update date
    assert (wind.revision, [r.number for r in wind.revisions]) == (1, [1])
    assert wind.revisions[0].body_hash == wind.body_hash
    assert wind.rights_holder is None and wind.is_licensable

    body = wind.body_html
    assert "It is our wind" in body and "The first payment is due in March." in body
    for gone in ("<script", "trackRead", "onclick", "javascript:", "Skip to content",
                 "Sign up for our free newsletter", "Fish quotas cut again", "Share<",
                 "newsletter.png", "class="):
        assert gone not in body, gone
    assert '<a href="https://www.northernledger.example/2025/10/turbine-noise">' in body
    assert "<a>port revenues</a>" in body

    lead, protest = wind.assets
    assert (lead.position, lead.kind, lead.alt) == (1, "image", "Turbines beyond the harbour wall")
    assert lead.caption == "The turbines seen from the harbour wall at dawn."
    assert lead.credit == "Maren Holt/The Northern Ledger"
    assert (lead.is_distributable, lead.restriction) == (True, None)
    assert protest.src == "https://img.northernledger.example/2025/11/protest-oslo.jpg"
    assert (protest.credit, protest.is_distributable) == ("AFP", False)
    assert protest.restriction == "credited to AFP (agency material)"

    ferry = article(db, "https://www.northernledger.example/2025/11/ferry-strike-week-two")
    assert ferry.body_html.startswith("<p>Island residents queued")  # description as body
    assert ferry.rights_holder == "Reuters"  # dc:rights
    assert ferry.published_at == datetime(2025, 11, 17, 17, 5, tzinfo=UTC)
    [media] = ferry.assets  # media:content with media:credit
    assert (media.credit, media.is_distributable) == ("AP Photo/Lise Åserud", False)
    assert media.restriction == "credited to AP (agency material)"

    apples = article(db, "ledger-2025-11-0398")
    assert apples.url_key == "https://northernledger.example/2025/11/apple-frost"
    assert apples.published_at == datetime(2025, 11, 16, 11, 0, tzinfo=UTC)
    [orchard] = apples.assets
    assert orchard.src == "http://northernledger.example/images/2025/11/apple-orchard.jpg"
    # "AP" is an agency; "Apple Valley Co-operative" is not AP
    assert (orchard.credit, orchard.is_distributable) == ("Apple Valley Co-operative", True)
    assert counts(db) == (3, 3, 4)


def test_atom(run_import: Importer, db: Session) -> None:
    report = run_import(FEEDS / "ledger.atom")

    assert len(report.imported) == 2
    glacier = article(db, "tag:northernledger.example,2025:article-7781")
    assert glacier.title == "Glacier retreat doubled in a decade, survey finds"  # html title
    assert glacier.canonical_url == "https://www.northernledger.example/2025/11/glacier-retreat"
    assert glacier.byline == "Sigrid Aas, Tor Nilsen"
    assert glacier.summary == (
        "The ice front of Nigardsbreen is retreating twice as fast as ten years ago."
    )
    assert glacier.published_at == datetime(2025, 11, 18, 7, 15, tzinfo=UTC)
    assert glacier.source_updated_at == datetime(2025, 11, 18, 9, 40, tzinfo=UTC)
    assert glacier.rights_holder == "Agence France-Presse"  # entry <rights>, not the feed's
    assert "Researchers blame warmer autumns." in glacier.body_html
    for gone in ("Advertisement", "onerror", "steal", "<iframe"):
        assert gone not in glacier.body_html, gone
    image, video = glacier.assets
    assert image.src == "https://www.northernledger.example/img/2025/11/nigardsbreen.jpg"
    assert (image.credit, image.caption, image.is_distributable) == (
        "Reuters", "The glacier tongue in September.", False
    )
    assert (video.kind, video.src) == ("embed", "https://video.example/embed/glacier-timelapse")

    vault = article(db, "tag:northernledger.example,2025:article-7790")
    assert vault.body_html == (
        "<p>For the first time, pupils will be allowed into the entrance tunnel of the "
        "Svalbard seed vault.</p>"
    )  # summary as body
    # no <published>: the update date stands in
    assert vault.published_at == vault.source_updated_at == datetime(2025, 11, 17, 14, tzinfo=UTC)
    assert vault.rights_holder is None


def test_json_feed(run_import: Importer, db: Session) -> None:
    report = run_import(FEEDS / "ledger.json")

    assert len(report.imported) == 2
    salmon = article(db, "ledger-biz-5520")
    assert salmon.title == "Salmon farmers and government strike tax deal"
    assert salmon.summary == "A lower rate in exchange for stricter rules on sea lice."
    assert salmon.byline == "Eirik Dahl"
    assert salmon.published_at == datetime(2025, 11, 18, 5, 0, tzinfo=UTC)
    assert salmon.source_updated_at == datetime(2025, 11, 18, 6, 30, tzinfo=UTC)
    for gone in ("Skip to main content", "Subscribe for unlimited access", "<form", "<input"):
        assert gone not in salmon.body_html, gone
    assert "halve sea-lice limits" in salmon.body_html
    pens, card = salmon.assets
    assert (pens.credit, pens.is_distributable) == ("Getty Images", False)
    assert pens.restriction == "credited to Getty Images (agency material)"
    assert (card.src, card.position) == (
        "https://img.northernledger.example/2025/11/salmon-card.jpg", 2
    )

    yard = article(db, "ledger-biz-5521")
    assert yard.body_html == (
        "<p>The yard at Ulstein will build three battery ferries for the coastal route.</p>"
        "<p>The contract is worth about 1.2 billion kroner &amp; secures 300 jobs "
        "&lt;for now&gt;.</p>"
    )  # content_text, escaped into paragraphs
    assert yard.rights_holder == "NTB"  # "_rights": {"holder": ...}
    assert yard.summary.startswith("The yard at Ulstein")


def test_json_feed_characters_no_database_stores(
    run_import: Importer, db: Session, tmp_path: Path
) -> None:
    feed = tmp_path / "odd.json"
    item = {
        "id": "ledger-biz-6100",
        "url": "https://www.northernledger.example/2025/11/krone",
        "title": "Krone\u0000 falls \ud83d",  # NUL and half an emoji, as JSON escapes allow
        "content_html": "<p>Down 2%\ud800 against the euro.</p>",
    }
    feed.write_text(json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [item]}))

    run_import(feed)

    krone = article(db, "ledger-biz-6100")
    assert krone.title == "Krone\ufffd falls \ufffd"
    assert krone.body_html == "<p>Down 2%\ufffd against the euro.</p>"


# --- re-imports -----------------------------------------------------------------------------


@pytest.mark.parametrize("feed", ["ledger.rss", "ledger.atom", "ledger.json"])
def test_reimport_is_idempotent(run_import: Importer, db: Session, feed: str) -> None:
    first = run_import(FEEDS / feed)
    before = counts(db)
    stamps = {a.guid: (a.updated_at, a.revision, a.slug) for a in db.scalars(select(Article))}

    second = run_import(FEEDS / feed)

    assert (second.imported, second.updated) == ([], [])
    assert second.skipped == [(title, "unchanged") for title in first.imported]
    assert counts(db) == before
    db.expire_all()
    assert {a.guid: (a.updated_at, a.revision, a.slug) for a in db.scalars(select(Article))} == (
        stamps
    )


def test_changed_body_bumps_revision(run_import: Importer, db: Session, tmp_path: Path) -> None:
    run_import(FEEDS / "ledger.rss")
    corrected = write_variant(
        tmp_path,
        "ledger.rss",
        ("The first payment is due in March.", "The first payment is due in April."),
        ("<title>Harbour town votes", "<title>Correction: Harbour town votes"),
    )

    report = run_import(corrected)

    assert report.updated == ["Correction: Harbour town votes to buy its offshore wind farm"]
    assert len(report.skipped) == 2 and not report.imported
    wind = article(db, "ledger-2025-11-0412")
    assert wind.revision == 2
    assert "due in April" in wind.body_html
    assert wind.title.startswith("Correction:")
    assert wind.slug == "harbour-town-votes-to-buy-its-offshore-wind-farm"  # kept
    assert wind.body_changed_at is not None
    assert [(r.number, r.title.split()[0]) for r in wind.revisions] == [
        (1, "Harbour"), (2, "Correction:")
    ]
    assert "due in March" in wind.revisions[0].body_html
    assert counts(db) == (3, 4, 4)


def test_changed_details_update_without_new_revision(
    run_import: Importer, db: Session, tmp_path: Path
) -> None:
    run_import(FEEDS / "ledger.json")
    changed = write_variant(
        tmp_path, "ledger.json", ('"name": "Kari Moe"', '"name": "Kari Moe and Eirik Dahl"')
    )

    report = run_import(changed)

    assert report.updated == ["Shipyard wins orders for three electric ferries"]
    yard = article(db, "ledger-biz-5521")
    assert yard.byline == "Kari Moe and Eirik Dahl"
    assert (yard.revision, yard.body_changed_at) == (1, None)
    assert counts(db) == (2, 2, 2)


def test_entry_with_a_new_id_is_found_by_its_url(
    run_import: Importer, db: Session, tmp_path: Path
) -> None:
    run_import(FEEDS / "ledger.json")
    moved = write_variant(
        tmp_path,
        "ledger.json",
        ('"id": "ledger-biz-5521"', '"id": "https://www.northernledger.example/?p=5521"'),
        (
            '"url": "https://www.northernledger.example/2025/11/shipyard-orders"',
            '"url": "http://northernledger.example/2025/11/shipyard-orders/?utm_campaign=x"',
        ),
    )

    report = run_import(moved)

    assert report.updated == ["Shipyard wins orders for three electric ferries"]
    assert counts(db) == (2, 2, 2)
    yard = article(db, "https://www.northernledger.example/?p=5521")
    assert yard.slug == "shipyard-wins-orders-for-three-electric-ferries"


def test_reimport_keeps_staff_rights(run_import: Importer, db: Session, tmp_path: Path) -> None:
    run_import(FEEDS / "ledger.rss")
    ferry = article(db, "https://www.northernledger.example/2025/11/ferry-strike-week-two")
    ferry.is_licensable = False
    ferry.rights_holder = "Reuters (syndication agreement 2024)"
    ferry.rights_reason = "Syndicated from Reuters: ask Reuters for republication."
    db.commit()
    changed = write_variant(
        tmp_path,
        "ledger.rss",
        ("Talks resume on Thursday.", "Talks resume on Friday."),
        ("<dc:rights>Reuters</dc:rights>", "<dc:rights>The Northern Ledger</dc:rights>"),
    )

    report = run_import(changed)

    assert report.updated == ["Ferry strike enters its second week"]
    ferry = article(db, "https://www.northernledger.example/2025/11/ferry-strike-week-two")
    assert ferry.revision == 2 and "Friday" in ferry.body_html
    assert (ferry.is_licensable, ferry.rights_holder, ferry.rights_reason) == (
        False,
        "Reuters (syndication agreement 2024)",
        "Syndicated from Reuters: ask Reuters for republication.",
    )


def test_entries_without_link_title_or_body_are_skipped(run_import: Importer, db: Session) -> None:
    report = run_import(FEEDS / "mixed.rss")

    assert report.imported == ["Library reopens after flood repairs"]
    assert report.skipped == [
        ("Council meeting moved to Thursday", "no link"),
        ("Road closures for the winter market", "no body"),
        ("ledger-local-204", "no title"),
    ]
    assert counts(db) == (1, 1, 0)


def test_same_titles_get_distinct_slugs(run_import: Importer, db: Session, tmp_path: Path) -> None:
    items = "".join(
        f"<item><title>Weather warning for the coast</title>"
        f"<link>https://www.northernledger.example/2025/11/weather-{n}</link>"
        f"<description>Storm number {n}.</description></item>"
        for n in range(3)
    )
    feed = tmp_path / "weather.rss"
    feed.write_text(f'<rss version="2.0"><channel><title>W</title>{items}</channel></rss>')

    run_import(feed)

    slugs = sorted(db.scalars(select(Article.slug)))
    assert slugs == [
        "weather-warning-for-the-coast",
        "weather-warning-for-the-coast-2",
        "weather-warning-for-the-coast-3",
    ]


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Ærøskøbing ferry: “Back by Easter”", "aeroskobing-ferry-back-by-easter"),
        ("北京", "article"),
        ("word " * 40, ("word-" * 16).rstrip("-")),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug
    assert len(slugify(title)) <= 80


# --- broken and hostile feeds ---------------------------------------------------------------


def _truncated(tmp_path: Path) -> str:
    data = (FEEDS / "ledger.rss").read_bytes()
    path = tmp_path / "truncated.rss"
    path.write_bytes(data[: len(data) * 2 // 3])
    return str(path)


def _written(name: str, data: bytes) -> Callable[[Path], str]:
    def write(tmp_path: Path) -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return write


def _utf16_billion_laughs(tmp_path: Path) -> str:
    text = (FEEDS / "billion-laughs.xml").read_text().replace('<?xml version="1.0"?>', "")
    return _written("laughs16.xml", text.encode("utf-16"))(tmp_path)


BROKEN_FEEDS: list[tuple[str, Callable[[Path], str], str]] = [
    ("malformed", lambda _: str(FEEDS / "malformed.xml"), r"not well-formed XML \(line 9"),
    ("truncated", _truncated, r"not well-formed XML"),
    ("html page", lambda _: str(FEEDS / "not-a-feed.html"), r"HTML page, not a feed"),
    ("xhtml page", _written("page.xhtml", b"<html xmlns='http://www.w3.org/1999/xhtml'>"
                            b"<body><p>Hello</p></body></html>"), r"HTML page, not a feed"),
    ("not a feed", _written("notes.xml", b"<notes><note>Buy milk</note></notes>"),
     r"not an RSS, Atom or JSON feed"),
    ("billion laughs", lambda _: str(FEEDS / "billion-laughs.xml"), r"declares XML entities"),
    ("billion laughs utf-16", _utf16_billion_laughs, r"declares XML entities"),
    ("xxe", lambda _: str(FEEDS / "xxe.xml"), r"declares XML entities"),
    ("invalid json feed", lambda _: str(FEEDS / "invalid-jsonfeed.json"),
     r'invalid JSON Feed: item 2: "title" must be a string'),
    ("json not a feed", _written("x.json", b'{"version": "1.0", "items": []}'),
     r"not a JSON Feed"),
    ("json items not a list", _written("x.json", b'{"version": "https://jsonfeed.org/version/1.1",'
                                       b' "items": {}}'), r'"items" must be a list'),
    ("json bad date", _written("x.json", b'{"version": "https://jsonfeed.org/version/1", "items":'
                               b' [{"id": "1", "date_published": "last Tuesday"}]}'),
     r'"date_published" must be an RFC 3339 date'),
    ("json date out of range", _written("x.json", b'{"version": "https://jsonfeed.org/version/1",'
                                        b' "items": [{"id": "1", "date_published": '
                                        b'"0001-01-01T00:00:00+05:00"}]}'),
     r'"date_published" must be an RFC 3339 date'),
    ("invalid json", _written("x.json", b'{"version": "https://jsonfeed.org/version/1.1", "items'),
     r"not valid JSON"),
    ("deep json", _written("x.json", b"[" * 100_000 + b"]" * 100_000), r"nested too deeply"),
    ("empty file", _written("empty.xml", b"  \n"), r"the feed is empty"),
    ("no such file", lambda tmp_path: str(tmp_path / "missing.rss"), r"missing.rss: no such file"),
    ("directory", lambda tmp_path: str(tmp_path), r"is a directory"),
    ("ftp url", lambda _: "ftp://ftp.northernledger.example/feed.xml",
     r"ftp:// URLs are not supported"),
    ("file url", lambda _: f"file://{FEEDS / 'ledger.rss'}", r"file:// URLs are not supported"),
]


@pytest.mark.parametrize(
    ("make_source", "message"),
    [case[1:] for case in BROKEN_FEEDS],
    ids=[case[0] for case in BROKEN_FEEDS],
)
def test_broken_feed_imports_nothing(
    run_import: Importer, db: Session, tmp_path: Path, make_source: Callable[[Path], str],
    message: str,
) -> None:
    run_import(FEEDS / "ledger.json")
    before = counts(db)

    with pytest.raises(FeedError, match=message):
        run_import(make_source(tmp_path))

    assert counts(db) == before == (2, 2, 2)


def test_oversized_feed_imports_nothing(run_import: Importer, db: Session) -> None:
    with pytest.raises(FeedError, match=r"larger than 2000 bytes \(FEED_MAX_BYTES\)"):
        run_import(FEEDS / "ledger.rss", max_bytes=2000)
    assert counts(db) == (0, 0, 0)


# --- URLs -----------------------------------------------------------------------------------


class FeedServer:
    """A feed site on 127.0.0.1: serves ROUTES, follows REDIRECTS, answers 404 otherwise;
    /slow answers only when the test is over."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.user_agents: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.user_agents.append(self.headers.get("User-Agent", ""))
                if self.path == "/slow":
                    server.release.wait(10)
                body = server.routes.get(self.path)
                try:
                    if self.path in server.redirects:
                        self.send_response(302)
                        self.send_header("Location", server.redirects[self.path])
                        self.end_headers()
                        return
                    if body is None:
                        self.send_error(404)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "application/feed+json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the importer gave up waiting

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output quiet

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.thread.start()
    yield server
    server.release.set()
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join()


def test_import_from_url(run_import: Importer, db: Session, feed_server: FeedServer) -> None:
    feed_server.routes["/business.json"] = (FEEDS / "ledger.json").read_bytes()

    report = run_import(f"{feed_server.url}/business.json")

    assert len(report.imported) == 2
    assert article(db, "ledger-biz-5520").source == f"{feed_server.url}/business.json"
    assert feed_server.user_agents[0].startswith("RepublishingPortal/")


def test_url_redirect(run_import: Importer, db: Session, feed_server: FeedServer) -> None:
    feed_server.routes["/science.atom"] = (FEEDS / "ledger.atom").read_bytes()
    feed_server.redirects["/feeds/science"] = f"{feed_server.url}/science.atom"
    feed_server.redirects["/feeds/old"] = "ftp://ftp.northernledger.example/science.atom"

    assert len(run_import(f"{feed_server.url}/feeds/science").imported) == 2
    with pytest.raises(FeedError, match=r"/feeds/old: redirected to a non-http\(s\) URL"):
        run_import(f"{feed_server.url}/feeds/old")


@pytest.mark.parametrize(
    ("path", "message"),
    [("/gone.rss", r"/gone.rss: the server answered 404 Not Found"),
     (None, r"cannot be fetched \(.*refused")],
)
def test_url_failure(
    run_import: Importer, db: Session, feed_server: FeedServer, path: str | None, message: str
) -> None:
    # None: a port nothing listens on
    url = f"{feed_server.url}{path}" if path else f"http://127.0.0.1:{_closed_port()}/feed.rss"
    with pytest.raises(FeedError, match=message):
        run_import(url)
    assert counts(db) == (0, 0, 0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_url_timeout(run_import: Importer, db: Session, feed_server: FeedServer) -> None:
    with pytest.raises(FeedError, match=r"/slow: no complete answer within 0.3 seconds"):
        run_import(f"{feed_server.url}/slow", timeout=0.3)
    assert counts(db) == (0, 0, 0)


def test_oversized_download(run_import: Importer, db: Session, feed_server: FeedServer) -> None:
    feed_server.routes["/big.rss"] = (FEEDS / "ledger.rss").read_bytes()
    with pytest.raises(FeedError, match=r"larger than 1000 bytes"):
        run_import(f"{feed_server.url}/big.rss", max_bytes=1000)
    assert counts(db) == (0, 0, 0)


# --- private addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("fd00::1", "private"), ("169.254.169.254", "link-local"), ("fe80::1%eth0", "link-local"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"), ("240.0.0.1", "reserved"), ("100.64.0.1", "non-public"),
    ("93.184.216.34", None), ("2606:4700::1111", None),
])
def test_which_addresses_are_refused(address: str, reason: str | None) -> None:
    assert refused_address(address) == reason


@pytest.fixture
def public_feed_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    """A feed site that passes for public: it listens on 127.0.0.2 (loopback too on Linux),
    and the importer is told that this one address is public, as a publisher's site is."""
    real = importer.refused_address
    monkeypatch.setattr(importer, "refused_address",
                        lambda address: None if address == "127.0.0.2" else real(address))
    server = FeedServer("127.0.0.2")
    server.thread.start()
    yield server
    server.release.set()
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join()


@pytest.mark.parametrize(("target", "message"), [
    ("http://127.0.0.1:6379/", r"127\.0\.0\.1 resolves to 127\.0\.0\.1, a loopback address"),
    ("http://169.254.169.254/latest/meta-data/",
     r"169\.254\.169\.254 resolves to 169\.254\.169\.254, a link-local address"),
    ("http://[::1]:8080/", r"::1 resolves to ::1, a loopback address"),
])
def test_a_redirect_to_a_private_address_is_refused(
    run_import: Importer, db: Session, public_feed_server: FeedServer, target: str, message: str
) -> None:
    public_feed_server.routes["/science.atom"] = (FEEDS / "ledger.atom").read_bytes()
    public_feed_server.redirects["/feeds/science"] = f"{public_feed_server.url}/science.atom"
    public_feed_server.redirects["/feeds/internal"] = target
    # A redirect between public addresses is followed.
    assert len(run_import(f"{public_feed_server.url}/feeds/science",
                          allow_private_addresses=False).imported) == 2

    with pytest.raises(FeedError, match=rf"/feeds/internal: redirected to {re.escape(target)}, "
                                        rf"which is refused: {message}; feeds are fetched from "
                                        "public addresses only"):
        run_import(f"{public_feed_server.url}/feeds/internal", allow_private_addresses=False)
    assert counts(db) == (2, 2, 2)  # nothing more than the first import


def test_a_feed_on_a_private_address_is_refused_unless_allowed(
    runner: FlaskCliRunner, app: Flask, db: Session, feed_server: FeedServer
) -> None:
    feed_server.routes["/business.json"] = (FEEDS / "ledger.json").read_bytes()
    url = f"{feed_server.url}/business.json"

    refused = runner.invoke(args=["articles", "import", url])
    assert refused.exit_code == 1
    assert "resolves to 127.0.0.1, a loopback address" in refused.output
    assert "(nothing was imported)" in refused.output
    assert feed_server.user_agents == [] and counts(db) == (0, 0, 0)

    app.config["FEED_ALLOW_PRIVATE_ADDRESSES"] = True
    allowed = runner.invoke(args=["articles", "import", url])
    assert allowed.exit_code == 0, allowed.output
    assert allowed.output.endswith("Imported 2, updated 0, skipped 0.\n")


def test_a_public_name_that_resolves_to_a_private_address_is_refused(
    run_import: Importer, db: Session, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.routes["/feed.json"] = (FEEDS / "ledger.json").read_bytes()
    port = int(feed_server.url.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "feeds.publisher.example":
            host = "127.0.0.1"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(FeedError, match=r"feeds\.publisher\.example resolves to 127\.0\.0\.1, "
                                        "a loopback address"):
        run_import(f"http://feeds.publisher.example:{port}/feed.json",
                   allow_private_addresses=False)
    assert feed_server.user_agents == [] and counts(db) == (0, 0, 0)


def test_a_second_dns_answer_cannot_slip_a_private_address_past_the_check(
    run_import: Importer, db: Session, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DNS rebinding: public when checked, loopback when urllib would connect. The connection
    # goes to the address checked as it was resolved, so the second answer is checked too.
    feed_server.routes["/feed.json"] = (FEEDS / "ledger.json").read_bytes()
    port = int(feed_server.url.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "feeds.publisher.example":
            host = next(answers, "127.0.0.1")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(FeedError, match=r"resolves to 127\.0\.0\.1, a loopback address"):
        run_import(f"http://feeds.publisher.example:{port}/feed.json",
                   allow_private_addresses=False)
    assert feed_server.user_agents == [] and counts(db) == (0, 0, 0)


# --- the command ----------------------------------------------------------------------------


def test_cli_import(runner: FlaskCliRunner, db: Session, tmp_path: Path) -> None:
    corrected = write_variant(tmp_path, "ledger.rss", ("Talks resume on Thursday.", "Talks end."))

    first = runner.invoke(args=["articles", "import", str(FEEDS / "ledger.rss")])
    again = runner.invoke(args=["articles", "import", str(FEEDS / "ledger.rss")])
    third = runner.invoke(args=["articles", "import", str(corrected)])

    assert first.exit_code == 0, first.output
    assert "  imported  Harbour town votes to buy its offshore wind farm\n" in first.output
    assert first.output.endswith("Imported 3, updated 0, skipped 0.\n")
    assert again.exit_code == 0, again.output
    assert "  skipped   Ferry strike enters its second week: unchanged\n" in again.output
    assert again.output.endswith("Imported 0, updated 0, skipped 3.\n")
    assert third.exit_code == 0, third.output
    assert "  updated   Ferry strike enters its second week (body changed, revision 2)\n" in (
        third.output
    )
    assert third.output.endswith("Imported 0, updated 1, skipped 2.\n")
    assert counts(db) == (3, 4, 4)


def test_cli_broken_feed(runner: FlaskCliRunner, db: Session) -> None:
    result = runner.invoke(args=["articles", "import", str(FEEDS / "invalid-jsonfeed.json")])

    assert result.exit_code == 1
    assert re.search(r'Error: .*invalid-jsonfeed.json: invalid JSON Feed: item 2: "title" must '
                     r"be a string \(nothing was imported\)", result.stderr)
    assert "Traceback" not in result.output
    assert counts(db) == (0, 0, 0)


# --- sanitising and credits -----------------------------------------------------------------

AGENCIES = ["AFP", "AP", "Reuters", "Getty", "Getty Images", "dpa"]


@pytest.mark.parametrize(
    ("figure", "caption", "credit", "restriction"),
    [
        ('<figure><img src="/a.jpg"><figcaption>Quay at dusk. Photo: AFP</figcaption></figure>',
         "Quay at dusk.", "AFP", "credited to AFP (agency material)"),
        ('<figure><img src="/a.jpg"><figcaption>Quay (© Reuters)</figcaption></figure>',
         "Quay", "Reuters", "credited to Reuters (agency material)"),
        ('<figure><img src="/a.jpg"><figcaption>Quay. Credit: AFP/Getty Images</figcaption>'
         "</figure>", "Quay.", "AFP/Getty Images",
         "credited to AFP, Getty Images (agency material)"),
        ('<figure><img src="/a.jpg"><figcaption>Quay <small>dpa</small></figcaption></figure>',
         "Quay", "dpa", "credited to dpa (agency material)"),
        ('<figure><img src="/a.jpg"><figcaption>Quay <span class="photo-credit">Photograph: '
         "Apple Press Office</span></figcaption></figure>", "Quay", "Apple Press Office", None),
        ('<figure><img src="/a.jpg" data-credit="AP"><figcaption>Quay</figcaption></figure>',
         "Quay", "AP", "credited to AP (agency material)"),
        ('<p><img src="/a.jpg" data-credit="Ola Brekke"></p>', None, "Ola Brekke", None),
        ('<figure><img src="/a.jpg"><figcaption>Quay, as AFP reported</figcaption></figure>',
         "Quay, as AFP reported", None, "caption names AFP (possible agency material)"),
        ('<figure><img src="/a.jpg"><figcaption>Rapid growth at the port</figcaption></figure>',
         "Rapid growth at the port", None, None),
    ],
)
def test_image_credits(figure: str, caption: str | None, credit: str | None,
                       restriction: str | None) -> None:
    body = clean_article_html(figure, base_url="https://www.northernledger.example/x/y",
                              agencies=AGENCIES)

    [asset] = body.assets
    assert asset.src == "https://www.northernledger.example/a.jpg"
    assert (asset.caption, asset.credit, asset.restriction) == (caption, credit, restriction)
    assert asset.is_distributable is (restriction is None)


@pytest.mark.parametrize(
    ("markup", "clean"),
    [
        ('<a href="ftp://files.example/x">f</a>', "<a>f</a>"),
        ('<a href="mailto:desk@northernledger.example" title="Mail" target="_blank" rel="opener">'
         "m</a>", '<a href="mailto:desk@northernledger.example" title="Mail">m</a>'),
        ('<img src="data:image/png;base64,AAAA" alt="x" loading="lazy">', '<img alt="x">'),
        ('<p style="color:red" class="lead" id="x">t</p>', "<p>t</p>"),
        ("<h1>Big</h1><h2>Sub</h2>", "Big<h2>Sub</h2>"),
        ('<table><tr><td colspan="2" onclick="x()">c</td></tr></table>',
         '<table><tbody><tr><td colspan="2">c</td></tr></tbody></table>'),
        ('<iframe src="https://x">if</iframe><object data="x">o</object><video src="v">v</video>',
         ""),
    ],
)
def test_sanitiser_allow_list(markup: str, clean: str) -> None:
    assert sanitise_html(markup) == clean


HOSTILE_MARKUP = st.sampled_from([
    "<script>alert(1)</script>", "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>", "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>', '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="java\tscript:alert(1)">x</a>', '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>', '<img src="javascript:alert(1)">',
    "<svg onload=alert(1)>", '<iframe src="javascript:alert(1)"></iframe>',
    '<p style="background:url(javascript:alert(1))" onclick="x()">', "</textarea><script>",
    "<!--<script>-->", "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
    '<form action="javascript:alert(1)"><button>go</button></form>', "<figure>", "</p>", "<a ",
    '<div class="newsletter">', "<p>", "<figcaption>Photo: AFP", "<",
])
# No ":" or "&" in the free text: with them, ordinary text could spell "javascript:".
FREE_TEXT = st.text(alphabet=st.characters(exclude_characters=":&"), max_size=30)


def _tags(output: str) -> list[Tag]:
    with warnings.catch_warnings():  # text that looks like a file name is still just text
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        return BeautifulSoup(output, "html.parser").find_all(True)


def _assert_harmless(output: str) -> None:
    lowered = output.lower()
    assert "<script" not in lowered and "javascript:" not in lowered
    for tag in _tags(output):
        assert tag.name != "script"
        for name, value in tag.attrs.items():
            assert name in ALLOWED_ATTRIBUTES.get(tag.name, set()), (tag.name, name)
            assert not re.sub(r"[\x00-\x20]", "", str(value)).lower().startswith("javascript:")


@given(st.lists(st.one_of(FREE_TEXT, HOSTILE_MARKUP), max_size=12).map("".join))
def test_sanitiser_output_is_harmless(markup: str) -> None:
    _assert_harmless(sanitise_html(markup))
    _assert_harmless(clean_article_html(markup, base_url=None, agencies=AGENCIES).html)


@given(st.text())
def test_sanitiser_escapes_any_text(text: str) -> None:
    output = sanitise_html(text)
    assert "<script" not in output.lower()
    for tag in _tags(output):
        assert not any(name.startswith("on") for name in tag.attrs)


# --- URL keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://www.northernledger.example/2025/11/story",
         "https://northernledger.example/2025/11/story"),
        ("HTTP://WWW.NorthernLedger.Example:80/2025/11/Story/?utm_source=x&utm_medium=y#top",
         "https://northernledger.example/2025/11/Story"),
        ("https://northernledger.example/a?b=2&fbclid=zz&a=1",
         "https://northernledger.example/a?a=1&b=2"),
        ("https://user:secret@northernledger.example:443/", "https://northernledger.example"),
        ("https://northernledger.example:8443/a", "https://northernledger.example:8443/a"),
        ("  https://zürich.example/café ", "https://xn--zrich-kva.example/caf%C3%A9"),
        ("http://[::1]:8000/x", "https://[::1]:8000/x"),
        ("ftp://northernledger.example/a", None),
        ("javascript:alert(1)", None),
        ("/2025/11/story", None),
        ("https://", None),
        ("http://exa mple.com/", None),
        ("http://northernledger.example:99999/", None),
        ("http://northernledger.example/\udc80", None),
        ("https://northernledger.example/" + "a" * 5000, None),
        ("", None),
    ],
)
def test_normalise_url(url: str, key: str | None) -> None:
    assert normalise_url(url) == key


URLISH = st.builds(
    "{}://{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
    st.one_of(st.text(max_size=30), st.sampled_from(["www.Example.com", "[::1]", "a:80", "x@y"])),
    st.text(),
)


@given(st.one_of(st.text(), urls(), URLISH, st.binary().map(lambda b: b.decode("latin-1"))))
def test_normalise_url_never_raises_and_is_idempotent(url: str) -> None:
    key = normalise_url(url)
    if key is not None:
        assert key.startswith("https://")
        assert normalise_url(key) == key
