"""Catalogue pages, /republish?url=, health checks and error pages."""

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import make_article


@pytest.fixture
def articles(db: Session) -> None:
    make_article(db)
    make_article(db, slug="night-train", guid="night-train", title="The night train returns",
                 canonical_url="https://www.northernledger.example/2026/11/night-train",
                 summary="Sleeper carriages are back.", byline="Erik Dahl")


def test_list_shows_articles_newest_first(client: FlaskClient, db: Session) -> None:
    make_article(db, slug="older", guid="older", title="An older story",
                 canonical_url="https://n.example/older",
                 published_at=datetime(2026, 1, 2, tzinfo=UTC))
    make_article(db, slug="newer", guid="newer", title="A newer story",
                 canonical_url="https://n.example/newer",
                 published_at=datetime(2026, 5, 6, tzinfo=UTC))
    page = client.get("/").get_data(as_text=True)
    assert page.index("A newer story") < page.index("An older story")


@pytest.mark.parametrize(("query", "found", "missing"), [
    ("night", "The night train returns", "Harbour town"),
    ("Holt", "Harbour town", "The night train"),   # byline
    ("sleeper", "The night train returns", "Harbour town"),  # summary
    ("%", None, "Harbour town"),  # LIKE wildcards are literal, not "anything"
    ("_", None, "Harbour town"),
])
def test_search(client: FlaskClient, articles, query: str, found: str | None, missing: str) -> None:
    response = client.get("/", query_string={"q": query})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    if found:
        assert found in page
    assert missing not in page


@pytest.mark.parametrize("params", [{"page": "-5"}, {"page": "abc"}, {"page": "999999999999"},
                                    {"q": "x" * 10_000}, {"q": "\x1b"}, {"q": "<script>"}])
def test_list_survives_odd_parameters(client: FlaskClient, articles, params) -> None:
    response = client.get("/", query_string=params)
    assert response.status_code == 200
    assert "<script>" not in response.get_data(as_text=True).split("<main", 1)[1].replace(
        "<script src", "")


@pytest.mark.parametrize("url", [
    "https://www.northernledger.example/2026/harbour-wind",
    "http://northernledger.example/2026/harbour-wind/",
    "https://WWW.NorthernLedger.example/2026/harbour-wind?utm_source=newsletter#comments",
])
def test_republish_by_url_redirects_to_the_form(client: FlaskClient, articles, url: str) -> None:
    response = client.get("/republish", query_string={"url": url})
    assert response.status_code == 303
    assert response.headers["Location"] == "/articles/harbour-wind/republish"


@pytest.mark.parametrize("url", [
    "https://www.northernledger.example/2026/unknown",
    "https://elsewhere.example/2026/harbour-wind",
    "javascript:alert(1)",
    "not a url at all",
    "https://" + "x" * 5000,
    "http://[::1",
    "https://exa mple.com/\x01",
])
def test_republish_by_unknown_url_is_a_clear_404(client: FlaskClient, articles, url: str) -> None:
    response = client.get("/republish", query_string={"url": url})
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "We could not find that article" in page
    assert "<script" not in page.split("<main", 1)[1].replace("<script src", "")


@pytest.mark.parametrize("url", ["/?q=%00", "/republish?url=https://x.example/%00",
                                 "/republish?url=%00", "/articles/a%00b", "/requests/%00" + "a" * 40,
                                 "/articles/a%00b/republish"])
def test_nul_bytes_anywhere_in_the_address_are_400(client: FlaskClient, articles, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert "not allowed" in response.get_data(as_text=True)


def test_republish_without_url_is_400(client: FlaskClient, articles) -> None:
    response = client.get("/republish")
    assert response.status_code == 400
    assert "needs the address of the article" in response.get_data(as_text=True)


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["database"] == "reachable"


def test_readyz_says_503_when_the_database_is_unreachable(tmp_path) -> None:
    from tests.conftest import make_app

    app = make_app(tmp_path, f"sqlite:///{tmp_path}/missing-dir/nope/db.sqlite3")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_404_page_is_in_the_site_style(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in page and "The Northern Ledger" in page


def test_405_page(client: FlaskClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert "not possible here" in response.get_data(as_text=True)


def test_500_page_hides_the_error_and_says_what_to_do(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "secret internals" not in page


def test_theme_css_carries_the_accent_and_refuses_junk(app: Flask) -> None:
    app.config["PUBLISHER_ACCENT_COLOUR"] = "#123abc"
    assert "--accent: #123abc" in app.test_client().get("/theme.css").get_data(as_text=True)
    app.config["PUBLISHER_ACCENT_COLOUR"] = "red;}</style><script>"
    css = app.test_client().get("/theme.css").get_data(as_text=True)
    assert "script" not in css and "--accent: #" in css


def test_pages_send_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_assets_are_served_by_the_portal(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "/static/portal.css" in page
    assert client.get("/static/portal.css").status_code == 200
    assert "//cdn" not in page and "googleapis" not in page
