"""The admin pages of the back office through the real pages: staff accounts, articles'
rights and the decline reasons. Admins change them and it is stored; other roles get 403;
bad input is refused with its message next to the field, and nothing is stored; an admin
cannot lock themselves out, and the desk always keeps an active admin."""

import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, Select, event, select, text
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.articles.models import Article, Asset
from portal.licensing.models import DeclineTemplate, RepublishRequest
from portal.staff import admin
from portal.staff.models import StaffRole, StaffSession, StaffUser
from tests.factories import make_article, make_request
from tests.staff_fixtures import (
    LOGIN_URL,
    StaffLogin,
    make_staff,
    page_csrf_token,
    sign_in,
)
from tests.test_ratecard_admin import error_of
from tests.test_staff_access import snapshot

USERS = "/staff/users"
ARTICLES = "/staff/articles"
REASONS = "/staff/decline-templates"
GOOD_PASSWORD = "a long enough passphrase"


def post(client: FlaskClient, page: str, url: str, **data: Any) -> TestResponse:
    """Send a form from `page` to `url`, as the browser would. A form with a prefix (one per
    table row) names its CSRF field after it: pass `csrf_field`."""
    field = data.pop("csrf_field", "csrf_token")
    return client.post(url, data={field: page_csrf_token(client, page), **data})


# The PostgreSQL test database is shared by concurrent runs, whose TRUNCATE waits for every
# open transaction; a read left open here would make this app's next query queue behind
# that TRUNCATE, and the test hang. So reads end their transaction at once (commit: the
# session keeps loaded values, as expire_on_commit is off).

def fresh(db: Session, model: type[Any], row_id: int) -> Any:
    """The row as committed now."""
    db.expire_all()
    row = db.get(model, row_id)
    db.commit()
    return row


def read(db: Session, statement: Select[Any]) -> list[Any]:
    """The rows as committed now."""
    db.expire_all()
    rows = list(db.scalars(statement))
    db.commit()
    return rows


def refused(response: TestResponse, status: int, field: str | None, message: str) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert message in (error_of(page, field) if field else page)
    return page


# --- who may ----------------------------------------------------------------------------

@pytest.fixture
def targets(db: Session) -> dict[str, int]:
    """One of each thing the admin pages change."""
    colleague = make_staff(db, role=StaffRole.LICENSING)
    inactive = make_staff(db, role=StaffRole.VIEWER, is_active=False)
    article = make_article(db)
    template = DeclineTemplate(title="Not for resale", body="We do not license this piece.")
    db.add(template)
    db.commit()
    return {"user": colleague.id, "inactive": inactive.id, "article": article.id,
            "template": template.id}


def admin_actions(ids: dict[str, int]) -> list[tuple[str, str, dict[str, str]]]:
    """(method, URL, form) of every admin route, with answers that would change something."""
    user, template = ids["user"], ids["template"]
    return [
        ("GET", USERS, {}),
        ("POST", USERS, {"email": "new@northernledger.example", "role": "admin",
                         "password": GOOD_PASSWORD}),
        ("POST", f"{USERS}/{user}/role", {f"user-{user}-role": "admin"}),
        ("POST", f"{USERS}/{user}/deactivate", {}),
        ("POST", f"{USERS}/{ids['inactive']}/reactivate", {}),
        ("GET", ARTICLES, {}),
        ("GET", f"{ARTICLES}/{ids['article']}", {}),
        ("POST", f"{ARTICLES}/{ids['article']}", {"price_tier": "premium"}),
        ("GET", REASONS, {}),
        ("POST", REASONS, {"title": "Other", "body": "No.", "position": "1"}),
        ("POST", f"{REASONS}/{template}", {f"reason-{template}-title": "Changed",
                                           f"reason-{template}-body": "Changed.",
                                           f"reason-{template}-position": "3"}),
        ("POST", f"{REASONS}/{template}/delete", {}),
    ]


@pytest.mark.parametrize("role", [StaffRole.LICENSING, StaffRole.VIEWER])
def test_only_admins_open_or_change_anything_here(
    client: FlaskClient, db: Session, staff_login: StaffLogin, targets: dict[str, int],
    role: StaffRole,
) -> None:
    staff_login(role)
    token = page_csrf_token(client, "/staff/")
    before = snapshot(db)
    for method, url, data in admin_actions(targets):
        response = client.open(url, method=method, data={"csrf_token": token, **data})
        assert response.status_code == 403, (method, url)
    assert snapshot(db) == before
    # and the menu does not offer what they may not open
    menu = client.get("/staff/").get_data(as_text=True)
    for url in (USERS, ARTICLES, REASONS):
        assert f'href="{url}"' not in menu


def test_the_admin_menu_leads_to_every_admin_page(
    client: FlaskClient, staff_login: StaffLogin, targets: dict[str, int]
) -> None:
    staff_login(StaffRole.ADMIN)
    menu = client.get("/staff/").get_data(as_text=True)
    for url, heading in ((USERS, "Staff"), (ARTICLES, "Articles"),
                         (REASONS, "Decline reasons")):
        assert f'href="{url}"' in menu
        assert f"<h1>{heading}</h1>" in client.get(url).get_data(as_text=True)


@pytest.mark.parametrize("url", [
    f"{USERS}/999/role", f"{USERS}/999/deactivate", f"{USERS}/99999999999/reactivate",
    f"{ARTICLES}/999", f"{ARTICLES}/99999999999", f"{REASONS}/999", f"{REASONS}/999/delete",
])
def test_unknown_ids_are_404(client: FlaskClient, db: Session, staff_login: StaffLogin,
                             url: str) -> None:
    staff_login(StaffRole.ADMIN)
    before = snapshot(db)
    assert post(client, USERS, url).status_code == 404
    if url.startswith(ARTICLES):
        assert client.get(url).status_code == 404
    assert snapshot(db) == before


# --- staff accounts -----------------------------------------------------------------------

def test_admin_adds_a_staff_member_who_can_then_sign_in(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    response = post(client, USERS, USERS, email=" Ola.Nordmann@NorthernLedger.example ",
                    name="Ola Nordmann", role="licensing", password=GOOD_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == USERS
    page = client.get(USERS).get_data(as_text=True)
    assert "Added ola.nordmann@northernledger.example with the role Licensing." in page
    [user] = read(db, select(StaffUser).where(StaffUser.name == "Ola Nordmann"))
    assert (user.email, user.role, user.is_active) == (
        "ola.nordmann@northernledger.example", StaffRole.LICENSING, True)
    assert GOOD_PASSWORD not in user.password_hash
    assert sign_in(app.test_client(), user.email, GOOD_PASSWORD).status_code == 303


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"email": ""}, "email", "Please give their e-mail address."),
    ({"email": "not an address"}, "email", "Please enter a valid e-mail address"),
    ({"email": "a" * 310 + "@example.org"}, "email", "Please keep this under 320 characters."),
    ({"email": "taken@northernledger.example"}, "email", "There is already a staff account"),
    ({"email": "TAKEN@northernledger.example"}, "email", "There is already a staff account"),
    ({"name": "<b>Boss</b>"}, "name", "Please write plain text here"),
    ({"name": "x" * 201}, "name", "Please keep this under 200 characters."),
    ({"role": "owner"}, "role", "Please choose viewer, licensing or admin."),
    ({"role": ""}, "role", "Please choose viewer, licensing or admin."),
    ({"password": ""}, "password", "Please give them a first password."),
    ({"password": "short pass"}, "password", "at least 12 characters"),
])
def test_a_bad_new_account_is_refused_and_nothing_is_stored(
    client: FlaskClient, db: Session, staff_login: StaffLogin,
    changes: dict[str, str], field: str, message: str,
) -> None:
    staff_login(StaffRole.ADMIN)
    make_staff(db, "taken@northernledger.example")
    before = snapshot(db)
    answers = {"email": "new@northernledger.example", "name": "New Colleague",
               "role": "viewer", "password": GOOD_PASSWORD} | changes
    page = refused(post(client, USERS, USERS, **answers), 422, field, message)
    assert "Nothing was saved" in page
    assert "<b>Boss</b>" not in page and GOOD_PASSWORD not in page
    assert snapshot(db) == before


def change_role(client: FlaskClient, user_id: int, role: str) -> TestResponse:
    return post(client, USERS, f"{USERS}/{user_id}/role",
                csrf_field=f"user-{user_id}-csrf_token", **{f"user-{user_id}-role": role})


def test_admin_changes_a_role_and_it_applies_at_the_next_page(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    colleague_browser = app.test_client()
    colleague = staff_login(StaffRole.VIEWER, client=colleague_browser)
    assert colleague_browser.get(USERS).status_code == 403

    response = change_role(client, colleague.id, "admin")
    assert response.status_code == 303 and response.headers["Location"] == USERS
    assert fresh(db, StaffUser, colleague.id).role == StaffRole.ADMIN
    assert f"{colleague.email} now has the role Admin" in client.get(USERS).get_data(as_text=True)
    # still signed in, now with the new role
    assert colleague_browser.get(USERS).status_code == 200


def test_an_unknown_role_is_refused(client: FlaskClient, db: Session,
                                    staff_login: StaffLogin) -> None:
    staff_login(StaffRole.ADMIN)
    colleague = make_staff(db, role=StaffRole.VIEWER)
    before = snapshot(db)
    refused(change_role(client, colleague.id, "superuser"), 422, f"user-{colleague.id}-role",
            "Please choose viewer, licensing or admin.")
    assert snapshot(db) == before


def test_deactivating_signs_them_out_at_once_and_reactivating_lets_them_back(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    colleague_browser = app.test_client()
    colleague = staff_login(StaffRole.LICENSING, client=colleague_browser)
    assert colleague_browser.get("/staff/").status_code == 200

    response = post(client, USERS, f"{USERS}/{colleague.id}/deactivate")
    assert response.status_code == 303 and response.headers["Location"] == USERS
    assert f"{colleague.email} is deactivated" in client.get(USERS).get_data(as_text=True)
    assert fresh(db, StaffUser, colleague.id).is_active is False
    sessions = read(db, select(StaffSession).where(StaffSession.user_id == colleague.id))
    assert all(s.ended_at is not None for s in sessions)

    after = colleague_browser.get("/staff/")
    assert after.status_code in (302, 303)
    assert after.headers["Location"].startswith(LOGIN_URL)
    assert sign_in(app.test_client(), colleague.email).status_code == 401

    response = post(client, USERS, f"{USERS}/{colleague.id}/reactivate")
    assert response.status_code == 303
    assert fresh(db, StaffUser, colleague.id).is_active is True
    assert sign_in(colleague_browser, colleague.email).status_code == 303
    assert colleague_browser.get("/staff/").status_code == 200


def test_an_admin_cannot_deactivate_or_demote_themselves(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    me = staff_login(StaffRole.ADMIN)
    make_staff(db, role=StaffRole.ADMIN)  # so that the last-admin rule is not what stops it
    page = client.get(USERS).get_data(as_text=True)
    # the page offers neither
    assert f"/staff/users/{me.id}/deactivate" not in page
    assert f"/staff/users/{me.id}/role" not in page
    before = snapshot(db)
    refused(post(client, USERS, f"{USERS}/{me.id}/deactivate"), 409, None,
            "You cannot deactivate your own account. Ask another admin to do it.")
    refused(change_role(client, me.id, "viewer"), 409, None,
            "You cannot change your own role. Ask another admin to do it.")
    assert snapshot(db) == before
    assert client.get(USERS).status_code == 200  # still signed in, still an admin


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    me = staff_login(StaffRole.ADMIN)
    make_staff(db, role=StaffRole.ADMIN, is_active=False)  # a deactivated admin does not count
    before = snapshot(db)
    for response in (post(client, USERS, f"{USERS}/{me.id}/deactivate"),
                     change_role(client, me.id, "licensing")):
        refused(response, 409, None, f"{me.email} is the last active admin.")
    assert snapshot(db) == before


def test_two_admins_demoting_each_other_leave_one_admin(db: Session) -> None:
    """The race the last-admin rule is for: B's request passed the role check just before
    A's change took B's admin role away, and would now demote A."""
    first = make_staff(db, role=StaffRole.ADMIN)
    second = make_staff(db, role=StaffRole.ADMIN)
    admin.change_role(db, second, StaffRole.VIEWER, actor=first)
    db.commit()
    with pytest.raises(admin.ChangeRefused, match="last active admin"):
        admin.change_role(db, first, StaffRole.VIEWER, actor=second)
    with pytest.raises(admin.ChangeRefused, match="last active admin"):
        admin.deactivate(db, first, actor=second)
    db.rollback()
    assert fresh(db, StaffUser, first.id).role == StaffRole.ADMIN


def test_on_postgresql_the_second_of_two_crossed_demotions_waits_then_is_refused(
    app: Flask, db: Session
) -> None:
    """The same race with real concurrency: the active admins' rows are locked until the
    first change commits, so the second sees it before deciding."""
    engine = app.extensions["portal.db"].engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer at a time, so the race cannot happen there")
    first = make_staff(db, role=StaffRole.ADMIN)
    second = make_staff(db, role=StaffRole.ADMIN)
    other = app.extensions["portal.db"].sessionmaker()
    other_pid = other.scalar(text("SELECT pg_backend_pid()"))
    outcome: list[str] = []

    def second_demotes_first() -> None:
        try:
            admin.change_role(other, other.get(StaffUser, first.id), StaffRole.VIEWER,
                              actor=other.get(StaffUser, second.id))
            other.commit()
            outcome.append("demoted")
        except admin.ChangeRefused:
            other.rollback()
            outcome.append("refused")

    admin.change_role(db, second, StaffRole.VIEWER, actor=first)
    db.flush()  # first's change is written, not yet committed
    racer = threading.Thread(target=second_demotes_first)
    racer.start()
    try:
        assert waits_for_a_lock(engine, other_pid), "the second change waits for the first"
    finally:
        db.commit()
        racer.join(timeout=30)
        other.close()
    assert outcome == ["refused"]
    assert fresh(db, StaffUser, first.id).role == StaffRole.ADMIN


def waits_for_a_lock(engine: Engine, pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.scalar(
                text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"),
                {"pid": pid})
            connection.rollback()
            if waiting:
                return True
            time.sleep(0.05)
    return False


# --- articles -----------------------------------------------------------------------------

def rights_url(article: Article) -> str:
    return f"{ARTICLES}/{article.id}"


def test_the_rights_page_shows_revision_assets_and_the_requests_link(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    article = make_article(db, revision=3, rights_holder="Partner Magazine")
    db.add_all([
        Asset(article_id=article.id, position=0, kind="image", src="https://img.example/a.jpg",
              credit="Photo: Maren Holt", is_distributable=True),
        Asset(article_id=article.id, position=1, kind="image", src="https://img.example/b.jpg",
              credit="AFP", is_distributable=False, restriction="credited to AFP"),
    ])
    db.commit()
    page = client.get(rights_url(article)).get_data(as_text=True)
    assert "revision 3" in page
    assert "Photo: Maren Holt" in page and "No: credited to AFP" in page
    assert f'href="/staff/?article={article.id}&amp;state=all"' in page
    assert 'value="Partner Magazine"' in page
    assert '<input checked id="is_licensable"' in page


def test_admin_changes_rights_and_requests_already_made_keep_theirs(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    article = make_article(db)
    make_request(app, db, article)
    db.commit()
    requests_before = snapshot(db)["requests"]

    # an unticked box sends nothing: not licensable
    response = post(client, rights_url(article), rights_url(article),
                    rights_holder="Partner Magazine", price_tier="not_for_sale",
                    rights_reason="Syndicated from a partner; ask them directly.")
    assert response.status_code == 303 and response.headers["Location"] == rights_url(article)
    assert "Rights saved." in client.get(rights_url(article)).get_data(as_text=True)
    stored = fresh(db, Article, article.id)
    assert (stored.is_licensable, stored.rights_holder, stored.rights_reason,
            stored.price_tier) == (False, "Partner Magazine",
                                   "Syndicated from a partner; ask them directly.",
                                   "not_for_sale")
    assert snapshot(db)["requests"] == requests_before
    # visitors now read the reason instead of the form
    public = client.get(f"/articles/{article.slug}/republish").get_data(as_text=True)
    assert "Syndicated from a partner; ask them directly." in public

    response = post(client, rights_url(article), rights_url(article), is_licensable="y",
                    rights_holder="", rights_reason="", price_tier="premium")
    assert response.status_code == 303
    stored = fresh(db, Article, article.id)
    assert (stored.is_licensable, stored.rights_holder, stored.rights_reason,
            stored.price_tier) == (True, None, None, "premium")


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"is_licensable": None, "rights_reason": ""}, "rights_reason",
     "Please say why the article cannot be licensed"),
    ({"is_licensable": None, "rights_reason": "   "}, "rights_reason",
     "Please say why the article cannot be licensed"),
    ({"rights_reason": "x" * 1001}, "rights_reason", "Please keep this under 1,000 characters."),
    ({"rights_reason": "Ask <a href=x>them</a>"}, "rights_reason", "Please write plain text"),
    ({"rights_holder": "<script>alert(1)</script>"}, "rights_holder", "Please write plain text"),
    ({"rights_holder": "x" * 301}, "rights_holder", "Please keep this under 300 characters."),
    ({"price_tier": "gold"}, "price_tier", "Please choose one of the price tiers."),
    ({"price_tier": ""}, "price_tier", "Please choose one of the price tiers."),
])
def test_bad_rights_are_refused_and_nothing_is_stored(
    client: FlaskClient, db: Session, staff_login: StaffLogin,
    changes: dict[str, str | None], field: str, message: str,
) -> None:
    staff_login(StaffRole.ADMIN)
    article = make_article(db)
    before = snapshot(db)
    answers = {"is_licensable": "y", "rights_holder": "Partner", "rights_reason": "Because.",
               "price_tier": "premium"} | changes
    data = {name: value for name, value in answers.items() if value is not None}
    page = refused(post(client, rights_url(article), rights_url(article), **data), 422,
                   field, message)
    assert "<script>alert(1)</script>" not in page
    assert snapshot(db) == before


@pytest.fixture
def catalogue(db: Session) -> None:
    make_article(db, "wind", title="Harbour town votes to own its wind farm")
    make_article(db, "ferry", title="Ferry fares rise 20% this winter", price_tier="premium")
    make_article(db, "mine", title="Mine reopens after 40 years", is_licensable=False,
                 rights_reason="Syndicated.", rights_holder="Partner Magazine")


@pytest.mark.parametrize(("query", "titles"), [
    ("", {"Harbour town votes to own its wind farm", "Ferry fares rise 20% this winter",
          "Mine reopens after 40 years"}),
    ("?q=WIND", {"Harbour town votes to own its wind farm"}),
    ("?q=20%25", {"Ferry fares rise 20% this winter"}),
    ("?q=%25", {"Ferry fares rise 20% this winter"}),  # a % typed is a %, not a wildcard
    ("?q=_", set()),
    ("?licensable=no", {"Mine reopens after 40 years"}),
    ("?licensable=yes&tier=premium", {"Ferry fares rise 20% this winter"}),
    ("?tier=not_for_sale", set()),
])
def test_the_catalogue_searches_titles_and_filters(
    client: FlaskClient, staff_login: StaffLogin, catalogue: None, query: str,
    titles: set[str],
) -> None:
    staff_login(StaffRole.ADMIN)
    page = client.get(ARTICLES + query).get_data(as_text=True)
    shown = {title for title in ("Harbour town votes to own its wind farm",
                                 "Ferry fares rise 20% this winter",
                                 "Mine reopens after 40 years") if title in page}
    assert shown == titles
    assert f"{len(titles)} article{'' if len(titles) == 1 else 's'}." in page


def test_filters_not_understood_are_ignored_and_said_so(
    client: FlaskClient, staff_login: StaffLogin, catalogue: None
) -> None:
    staff_login(StaffRole.ADMIN)
    response = client.get(f"{ARTICLES}?licensable=maybe&tier=gold&page=%C2%B2")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "were ignored: licensable, tier." in page and "3 articles." in page


@pytest.fixture
def many_articles(db: Session) -> None:
    db.add_all(make_article_row(number) for number in range(60))
    db.commit()


def make_article_row(number: int) -> Article:
    # Straight rows rather than make_article(), which commits each one.
    return Article(slug=f"piece-{number}", guid=f"guid-{number}",
                   canonical_url=f"https://www.northernledger.example/piece-{number}",
                   url_key=f"northernledger.example/piece-{number}", title=f"Piece {number:02d}",
                   body_html="<p>Text.</p>", body_hash="0" * 64)


def test_the_catalogue_has_pages_of_fifty(client: FlaskClient, staff_login: StaffLogin,
                                          many_articles: None) -> None:
    staff_login(StaffRole.ADMIN)
    first = client.get(ARTICLES).get_data(as_text=True)
    assert first.count('href="/staff/articles/') == 50
    assert "Page 1 of 2" in first and 'href="/staff/articles?page=2"' in first
    second = client.get(f"{ARTICLES}?page=2").get_data(as_text=True)
    assert second.count('href="/staff/articles/') == 10
    assert 'href="/staff/articles" rel="prev"' in second


def statements_for(app: Flask, client: FlaskClient, url: str) -> int:
    engine = app.extensions["portal.db"].engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_the_catalogue_costs_the_same_queries_for_5_or_60_articles(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    db.add_all(make_article_row(number) for number in range(5))
    db.commit()
    few = statements_for(app, client, ARTICLES)
    db.add_all(make_article_row(number) for number in range(5, 60))
    db.commit()
    many = statements_for(app, client, ARTICLES)
    assert few == many
    assert many <= 4  # the signed-in session, the count, the page (and a sign-in touch)


# --- decline reasons ----------------------------------------------------------------------

def reasons(db: Session) -> list[tuple[str, str, int]]:
    return [(t.title, t.body, t.position) for t in
            read(db, select(DeclineTemplate).order_by(DeclineTemplate.id))]


def edit(client: FlaskClient, template_id: int, **answers: str) -> TestResponse:
    prefix = f"reason-{template_id}-"
    return post(client, REASONS, f"{REASONS}/{template_id}", csrf_field=prefix + "csrf_token",
                **{prefix + name: value for name, value in answers.items()})


def test_admin_adds_edits_and_deletes_reasons(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    assert "There are no reasons yet" in client.get(REASONS).get_data(as_text=True)

    two_lines = "This article belongs to a partner.\nPlease ask them."
    response = post(client, REASONS, REASONS, title="Syndicated piece", body=two_lines,
                    position="20")
    assert response.status_code == 303 and response.headers["Location"] == REASONS
    response = post(client, REASONS, REASONS, title="Competitor", body="Not to competitors.",
                    position="10")
    assert response.status_code == 303
    assert reasons(db) == [("Syndicated piece", two_lines, 20),
                           ("Competitor", "Not to competitors.", 10)]
    page = client.get(REASONS).get_data(as_text=True)
    assert "Added the reason “Competitor”." in page
    assert page.index("Competitor") < page.index("Syndicated piece")  # by position
    assert 'id="position" inputmode="numeric"' in page
    assert 'name="position" required type="number" value="30"' in page  # new ones go last

    first = read(db, select(DeclineTemplate.id).order_by(DeclineTemplate.id))[0]
    response = edit(client, first, title="Syndicated", body="Belongs to a partner.",
                    position="5")
    assert response.status_code == 303
    assert reasons(db)[0] == ("Syndicated", "Belongs to a partner.", 5)

    # the reasons are what licensing staff choose from when declining
    make_request(app, db)
    [reference] = read(db, select(RepublishRequest.reference))
    request_page = client.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert '<option value="Syndicated">Syndicated</option>' in request_page

    response = post(client, REASONS, f"{REASONS}/{first}/delete")
    assert response.status_code == 303
    assert [title for title, _, _ in reasons(db)] == ["Competitor"]
    assert "Deleted the reason “Syndicated”." in client.get(REASONS).get_data(as_text=True)


BAD_REASONS = [
    ({"title": ""}, "title", "Please fill in this field."),
    ({"title": "x" * 201}, "title", "Please keep this under 200 characters."),
    ({"title": "<i>Rude</i>"}, "title", "Please write plain text"),
    ({"title": "Two\nlines"}, "title", "Please remove the special characters"),
    ({"title": "Taken"}, "title", "There is already a reason titled “Taken”."),
    ({"title": "TAKEN "}, "title", "There is already a reason titled “TAKEN”."),
    ({"body": ""}, "body", "Please write the reason."),
    ({"body": "x" * 4001}, "body", "Please keep this under 4,000 characters."),
    ({"body": "See <a href='https://evil.example'>here</a>"}, "body", "Please write plain text"),
    ({"position": ""}, "position", "Please give a whole number, like 10."),
    ({"position": "ten"}, "position", "Not a valid integer value."),
    ({"position": "-1"}, "position", "Please give a number from 0 to 9999."),
    ({"position": "10000"}, "position", "Please give a number from 0 to 9999."),
]


@pytest.fixture
def taken(db: Session) -> int:
    template = DeclineTemplate(title="Taken", body="Already here.", position=1)
    db.add(template)
    db.commit()
    return template.id


@pytest.mark.parametrize(("changes", "field", "message"), BAD_REASONS)
def test_a_bad_new_reason_is_refused_and_nothing_is_stored(
    client: FlaskClient, db: Session, staff_login: StaffLogin, taken: int,
    changes: dict[str, str], field: str, message: str,
) -> None:
    staff_login(StaffRole.ADMIN)
    before = snapshot(db)
    answers = {"title": "New reason", "body": "Because.", "position": "3"} | changes
    page = refused(post(client, REASONS, REASONS, **answers), 422, field, message)
    assert "<i>Rude</i>" not in page and "evil.example'>" not in page
    assert snapshot(db) == before


@pytest.mark.parametrize(("changes", "field", "message"), BAD_REASONS)
def test_a_bad_edit_is_refused_and_nothing_is_stored(
    client: FlaskClient, db: Session, staff_login: StaffLogin, taken: int,
    changes: dict[str, str], field: str, message: str,
) -> None:
    staff_login(StaffRole.ADMIN)
    other = DeclineTemplate(title="Other", body="Another reason.", position=2)
    db.add(other)
    db.commit()
    before = snapshot(db)
    answers = {"title": "Other", "body": "Changed.", "position": "3"} | changes
    response = edit(client, other.id, **answers)
    page = refused(response, 422, f"reason-{other.id}-{field}", message)
    assert f'<details id="reason-{other.id}" open>' in page
    assert snapshot(db) == before


def test_a_reason_may_keep_its_own_title(client: FlaskClient, db: Session,
                                         staff_login: StaffLogin, taken: int) -> None:
    staff_login(StaffRole.ADMIN)
    assert edit(client, taken, title="taken", body="Changed.", position="1").status_code == 303
    assert reasons(db) == [("taken", "Changed.", 1)]


def test_the_unique_index_backs_the_title_check(db: Session, taken: int) -> None:
    """A title saved by a colleague between the check and the flush is still refused."""
    actor = make_staff(db, role=StaffRole.ADMIN)
    db.add(DeclineTemplate(title="Late", body="Saved by a colleague.", position=5))
    # The check's query does not flush, so it cannot see the colleague's row; the
    # database's unique index can.
    with db.no_autoflush, pytest.raises(admin.DuplicateTitle):
        admin.add_decline_template(db, admin.DeclineReason("Late", "Mine.", 6), actor=actor)
    db.rollback()
    assert len(read(db, select(DeclineTemplate))) == 1
