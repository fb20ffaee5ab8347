"""Sign-in throttling counts failures only, per account and per client address, and never
locks an account's own browser (its known-device cookie) out; the 429 page is the back
office's; every back-office page is sent with Cache-Control: no-store."""

import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import Session

from portal.staff import known_device
from portal.staff.models import StaffRole
from tests.conftest import REDIS_SKIP, REDIS_URL, make_app, sqlite_copy
from tests.staff_fixtures import LOGIN_URL, StaffLogin, make_staff, page_csrf_token, sign_in

EMAIL = "desk@northernledger.example"
TIGHT = {"STAFF_LOGIN_RATE_LIMIT_ACCOUNT": "3 per 10 minutes",
         "STAFF_LOGIN_RATE_LIMIT_IP": "3 per 10 minutes"}


def sign_out(client: FlaskClient) -> None:
    token = page_csrf_token(client, "/staff/")
    assert client.post("/staff/logout", data={"csrf_token": token}).status_code == 303


def from_address(address: str) -> dict[str, object]:
    return {"environ_base": {"REMOTE_ADDR": address}}


@pytest.mark.parametrize("app_overrides", [TIGHT])
def test_successful_sign_ins_are_not_counted(client: FlaskClient, db: Session) -> None:
    make_staff(db, EMAIL)
    for _ in range(6):
        assert sign_in(client, EMAIL, **from_address("10.1.1.1")).status_code == 303
        sign_out(client)


@pytest.mark.parametrize("app_overrides", [TIGHT])
def test_a_form_refused_for_a_missing_field_is_not_counted(
    client: FlaskClient, db: Session
) -> None:
    make_staff(db, EMAIL)
    for _ in range(5):
        answer = client.post(LOGIN_URL, data={"email": EMAIL, "csrf_token": page_csrf_token(client)},
                             **from_address("10.1.1.1"))  # type: ignore[arg-type]
        assert answer.status_code == 422
    assert sign_in(client, EMAIL, **from_address("10.1.1.1")).status_code == 303


@pytest.mark.parametrize("app_overrides", [TIGHT])
def test_a_strangers_failures_do_not_lock_the_accounts_own_browser_out(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    make_staff(db, EMAIL)
    desk = client
    assert sign_in(desk, EMAIL, **from_address("10.1.1.1")).status_code == 303
    sign_out(desk)

    stranger = app.test_client()
    for n in range(3):
        answer = sign_in(stranger, EMAIL, "a guess", **from_address(f"203.0.113.{n}"))
        assert answer.status_code == 401
    assert sign_in(stranger, EMAIL, **from_address("203.0.113.9")).status_code == 429
    # another browser, even on the desk's own network, is a stranger too
    assert sign_in(app.test_client(), EMAIL, **from_address("10.1.1.1")).status_code == 429
    # the desk's browser, wherever it is today, still signs in with the right password
    assert sign_in(desk, EMAIL, **from_address("10.1.1.1")).status_code == 303
    sign_out(desk)
    assert sign_in(desk, EMAIL, **from_address("198.51.100.20")).status_code == 303


@pytest.mark.parametrize("app_overrides", [TIGHT])
def test_failures_from_a_shared_address_do_not_lock_out_a_known_browser_there(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    make_staff(db, EMAIL)
    assert sign_in(client, EMAIL, **from_address("192.0.2.50")).status_code == 303
    sign_out(client)
    stranger = app.test_client()
    for n in range(3):
        answer = sign_in(stranger, f"guess{n}@northernledger.example", "a guess",
                         **from_address("192.0.2.50"))
        assert answer.status_code == 401
    assert sign_in(stranger, EMAIL, **from_address("192.0.2.50")).status_code == 429
    assert sign_in(client, EMAIL, **from_address("192.0.2.50")).status_code == 303


@pytest.mark.parametrize("app_overrides", [TIGHT])
def test_a_known_browser_is_throttled_too_when_it_guesses(
    client: FlaskClient, db: Session
) -> None:
    make_staff(db, EMAIL)
    assert sign_in(client, EMAIL).status_code == 303
    sign_out(client)
    for _ in range(3):
        assert sign_in(client, EMAIL, "a guess").status_code == 401
    assert sign_in(client, EMAIL).status_code == 429


@pytest.mark.parametrize("app_overrides", [TIGHT])
def test_a_forged_or_foreign_device_cookie_earns_nothing(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    make_staff(db, EMAIL)
    other = make_staff(db)
    # a real cookie, but from signing in to another account
    assert sign_in(client, other.email).status_code == 303
    sign_out(client)
    for n in range(3):
        assert sign_in(client, EMAIL, "a guess", **from_address(f"203.0.113.{n}")).status_code == 401
    assert sign_in(client, EMAIL, **from_address("203.0.113.9")).status_code == 429

    forger = app.test_client()
    forged = URLSafeTimedSerializer("not the secret key", salt="portal.staff.known-device")
    value = forged.dumps({"d": "mine", "a": [known_device.account_tag(EMAIL)]})
    forger.set_cookie(known_device.COOKIE_NAME, value, path="/staff/")
    assert sign_in(forger, EMAIL, **from_address("203.0.113.10")).status_code == 429


def test_the_device_cookie_is_signed_scoped_and_names_no_address(
    client: FlaskClient, db: Session
) -> None:
    make_staff(db, EMAIL)
    answer = sign_in(client, EMAIL)
    header = next(value for value in answer.headers.getlist("Set-Cookie")
                  if value.startswith(f"{known_device.COOKIE_NAME}="))
    assert "HttpOnly" in header and "Path=/staff/" in header and "SameSite=Lax" in header
    assert "Max-Age=7776000" in header
    assert "desk" not in header and "northernledger" not in header


@pytest.mark.parametrize("app_overrides", [{"STAFF_LOGIN_RATE_LIMIT_ACCOUNT": "1 per 10 minutes"}])
def test_the_sign_in_429_page_is_the_back_offices(client: FlaskClient, db: Session) -> None:
    make_staff(db, EMAIL)
    assert sign_in(client, EMAIL, "a guess").status_code == 401
    blocked = sign_in(client, EMAIL)
    assert blocked.status_code == 429
    page = blocked.get_data(as_text=True)
    assert '<body class="staff">' in page
    assert "Licensing desk" in page and "staff.css" in page
    assert "Too many attempts" in page
    assert "Go to the articles" not in page
    assert 'href="/staff/login"' in page
    assert 'href="/staff/password/forgot"' in page  # the way out of a lockout
    assert blocked.headers["Cache-Control"] == "no-store"


def test_a_403_in_the_back_office_is_the_back_offices(
    client: FlaskClient, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.VIEWER)
    answer = client.get("/staff/users")
    assert answer.status_code == 403
    page = answer.get_data(as_text=True)
    assert '<body class="staff">' in page and "You may not do that" in page
    assert 'href="/staff/"' in page


@pytest.mark.parametrize("path", ["/staff/login", "/staff/", "/staff/no-such-page"])
def test_back_office_pages_are_never_cached(
    client: FlaskClient, staff_login: StaffLogin, path: str
) -> None:
    staff_login(StaffRole.ADMIN)
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_the_sign_in_page_and_its_answers_are_never_cached(
    client: FlaskClient, db: Session
) -> None:
    make_staff(db, EMAIL)
    assert client.get(LOGIN_URL).headers["Cache-Control"] == "no-store"
    assert sign_in(client, EMAIL, "a guess").headers["Cache-Control"] == "no-store"
    assert sign_in(client, EMAIL).headers["Cache-Control"] == "no-store"


def test_failures_only_are_counted_in_redis_too(tmp_path: Path, sqlite_template: Path) -> None:
    """The same rules with the counters in Redis, as production keeps them."""
    if not REDIS_URL:
        pytest.skip(REDIS_SKIP)
    app = make_app(tmp_path, sqlite_copy(sqlite_template, tmp_path), **TIGHT,
                   RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4()}")
    db = app.extensions["portal.db"].sessionmaker()
    make_staff(db, EMAIL)
    desk, stranger = app.test_client(), app.test_client()
    for _ in range(4):
        assert sign_in(desk, EMAIL).status_code == 303
        sign_out(desk)
    for _ in range(3):
        assert sign_in(stranger, EMAIL, "a guess").status_code == 401
    assert sign_in(stranger, EMAIL).status_code == 429
    assert sign_in(desk, EMAIL).status_code == 303
    db.close()
    app.extensions["portal.db"].engine.dispose()
