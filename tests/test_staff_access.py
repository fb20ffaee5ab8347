"""Access control of every back-office route at once, read from the app's own URL map: an
anonymous visitor is sent to sign in and changes nothing; every view declares its least
role (role_required), a lower role gets 403 and changes nothing, that role gets in.

New routes are picked up as they are added; URL parameters get dummy values (a 404 for a
reference that does not exist still shows the door was open)."""

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    Rule,
    UUIDConverter,
)
from werkzeug.test import TestResponse

from portal import create_app
from portal.db import Base, utcnow
from portal.security_events import SecurityEvent
from portal.staff.auth import required_role
from portal.staff.models import ROLE_RANK, StaffRole
from tests.conftest import sqlite_copy
from tests.factories import make_article, make_request
from tests.staff_fixtures import LOGIN_URL, StaffLogin, make_staff, page_csrf_token

#: the routes open to anyone: the sign-in form itself, and the way back in without a password
OPEN_ENDPOINTS = {"staff.login", "staff.login_code", "staff.forgot_password",
                  "staff.reset_password"}
#: a page every signed-in user can open: forms are sent from it, CSRF tokens taken from it
FORM_PAGE = "/staff/"


def dummy_value(converter: object) -> object:
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, FloatConverter):
        return 1.0
    if isinstance(converter, UUIDConverter):
        return "00000000-0000-4000-8000-000000000001"
    if isinstance(converter, AnyConverter):
        return min(converter.items)
    return f"RR-{utcnow().year}-00001"  # the request some_data makes


def dummy_url(rule: Rule) -> str:
    values = {name: dummy_value(converter) for name, converter in rule._converters.items()}
    built = rule.build(values)
    assert built is not None, f"cannot build {rule.rule} from {values}"
    return built[1]


def staff_routes() -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) of every guarded route under /staff/."""
    app = create_app({"ENV": "test", "TESTING": True, "DATABASE_URL": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/staff/") or rule.endpoint in OPEN_ENDPOINTS:
            continue
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, dummy_url(rule)))
    return sorted(routes)


ROUTES = staff_routes()
ROUTE_IDS = [f"{method} {url}" for _endpoint, method, url in ROUTES]


def snapshot(db: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to show that a request changed nothing. (But the security
    log's, whose task is to keep refusals: the tests read it apart.)"""
    rows = {
        table.name: sorted((tuple(row) for row in db.execute(select(table))), key=repr)
        for table in Base.metadata.sorted_tables if table.name != "security_events"
    }
    db.rollback()  # end the read, so the next snapshot sees what requests committed
    return rows


def send(client: FlaskClient, method: str, url: str, csrf_token: str) -> TestResponse:
    if method == "GET":
        return client.get(url)
    # As from a form on a back-office page, which is where signing in leads back to.
    return client.open(url, method=method, data={"csrf_token": csrf_token},
                       headers={"Referer": f"http://localhost{FORM_PAGE}"})


def is_sent_to_sign_in(response: TestResponse, method: str, url: str) -> bool:
    """The redirect to the sign-in page that leads back afterwards."""
    if response.status_code not in (302, 303):
        return False
    location = urlsplit(response.headers["Location"])
    back_to = url if method == "GET" else FORM_PAGE
    return location.path == LOGIN_URL and parse_qs(location.query).get("next") == [back_to]


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """Access control does not depend on the database: these many cases run on SQLite only
    (the rest of the suite runs on both)."""
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def some_data(app: Flask, db: Session) -> None:
    """An admin, an article and a request (with its audit event and e-mails), so that a
    refused action has something it could have changed."""
    make_staff(db, role=StaffRole.ADMIN)
    make_request(app, db, article=make_article(db))


@pytest.mark.parametrize("endpoint, method, url", ROUTES, ids=ROUTE_IDS)
def test_anonymous_visitor_is_sent_to_sign_in_and_changes_nothing(
    client: FlaskClient, db: Session, some_data: None, endpoint: str, method: str, url: str
) -> None:
    token = page_csrf_token(client)
    before = snapshot(db)
    response = send(client, method, url, token)
    assert response.status_code != 200
    assert is_sent_to_sign_in(response, method, url) or (
        method != "GET" and response.status_code == 401
    ), response.status_code
    assert snapshot(db) == before


@pytest.mark.parametrize("endpoint", sorted({endpoint for endpoint, _m, _u in ROUTES}))
def test_every_back_office_view_declares_its_least_role(app: Flask, endpoint: str) -> None:
    assert required_role(app.view_functions[endpoint]) is not None, (
        f"{endpoint} is not guarded by role_required()"
    )


@pytest.mark.parametrize("role", list(StaffRole))
@pytest.mark.parametrize("endpoint, method, url", ROUTES, ids=ROUTE_IDS)
def test_each_role_gets_exactly_the_routes_it_is_allowed(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin, some_data: None,
    endpoint: str, method: str, url: str, role: StaffRole,
) -> None:
    least = required_role(app.view_functions[endpoint])
    assert least is not None, f"{endpoint} is not guarded by role_required()"
    staff_login(role)
    token = page_csrf_token(client, FORM_PAGE)
    before = snapshot(db)
    response = send(client, method, url, token)
    if ROLE_RANK[role] < ROLE_RANK[least]:
        assert response.status_code == 403
        assert "You may not do that" in response.get_data(as_text=True)
        assert snapshot(db) == before
        refusal = db.scalars(select(SecurityEvent).order_by(SecurityEvent.id.desc())).first()
        assert refusal is not None and refusal.kind == "forbidden"
        assert refusal.target == f"{method} {url.split('?')[0]}"
        assert refusal.detail == f"needs the {least.value} role; has {role.value}"
        db.rollback()
    else:
        assert response.status_code not in (401, 403)
        assert not is_sent_to_sign_in(response, method, url)
        assert response.status_code < 500
