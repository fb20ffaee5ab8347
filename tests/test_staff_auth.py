"""Staff sign-in: the form, sessions (start, expiry, sign-out, replay), the same answer for
every failure, throttling, CSRF, safe redirects after sign-in, and the `staff` commands."""

import hashlib
import re
from datetime import timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher, extract_parameters
from flask import Config, Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.db import utcnow
from portal.resources import resource_dir
from portal.staff import auth
from portal.staff.auth_views import SIGN_IN_FAILED, safe_next
from portal.staff.models import StaffRole, StaffSession, StaffUser
from tests.staff_fixtures import (
    LOGIN_URL,
    STAFF_PASSWORD,
    StaffLogin,
    make_staff,
    page_csrf_token,
    sign_in,
)

QUEUE_URL = "/staff/"
EMAIL = "ada@northernledger.example"


def live_sessions(db: Session) -> int:
    db.expire_all()
    return db.scalar(
        select(func.count()).select_from(StaffSession).where(StaffSession.ended_at.is_(None))
    ) or 0


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def cookie_contents(app: Flask, client: FlaskClient) -> dict[str, object]:
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    contents: dict[str, object] = serializer.loads(session_cookie(client))
    return contents


def assert_sent_to_sign_in(response: TestResponse, next_path: str = QUEUE_URL) -> None:
    assert response.status_code in (302, 303)
    location = urlsplit(response.headers["Location"])
    assert location.path == LOGIN_URL
    assert parse_qs(location.query)["next"] == [next_path]


def without_csrf_tokens(page: str) -> str:
    return re.sub(r'name="csrf_token"([^>]*) value="[^"]+"', r'name="csrf_token"\1 value=""',
                  page)


# --- the form -----------------------------------------------------------------------------

def test_sign_in_page_has_labelled_fields_and_works_without_script(client: FlaskClient) -> None:
    page = client.get(LOGIN_URL).get_data(as_text=True)
    assert "<h1>Sign in to the licensing desk</h1>" in page
    assert '<label for="email">E-mail address</label>' in page
    assert '<label for="password">Password</label>' in page
    assert 'autocomplete="username"' in page and 'autocomplete="current-password"' in page
    assert 'type="email"' in page and 'type="password"' in page
    assert re.search(r'<form method="post" action="/staff/login"', page)
    assert '<button type="submit" class="button button-primary">Sign in</button>' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    assert "<script" not in page


def test_empty_fields_are_named_in_the_error_summary(client: FlaskClient, db: Session) -> None:
    response = client.post(LOGIN_URL, data={"csrf_token": page_csrf_token(client)})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "E-mail address: Enter your e-mail address." in page
    assert "Password: Enter your password." in page
    assert live_sessions(db) == 0


# --- signing in ---------------------------------------------------------------------------

def test_sign_in_stores_only_the_hash_of_a_random_token(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    user = make_staff(db, EMAIL, StaffRole.VIEWER)
    response = sign_in(client, "  Ada@NorthernLedger.example ")
    assert response.status_code == 303
    assert response.headers["Location"] == QUEUE_URL

    token = cookie_contents(app, client)["_user_id"]
    assert isinstance(token, str) and len(token) >= 43
    stored = db.scalars(select(StaffSession)).one()
    assert stored.user_id == user.id
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token_hash
    db.refresh(user)
    assert user.last_login_at is not None
    assert client.get(QUEUE_URL).status_code == 200


def test_sign_in_starts_a_new_session(app: Flask, client: FlaskClient, db: Session) -> None:
    make_staff(db, EMAIL)
    with client.session_transaction() as before:
        before["planted"] = "by someone else"
    old_csrf = page_csrf_token(client)
    assert sign_in(client, EMAIL).status_code == 303
    contents = cookie_contents(app, client)
    assert "planted" not in contents
    assert page_csrf_token(client, QUEUE_URL) != old_csrf


def test_signing_in_again_ends_the_session_it_replaces(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.VIEWER)
    other = make_staff(db, EMAIL, StaffRole.ADMIN)
    assert client.post(LOGIN_URL, data={
        "email": other.email, "password": STAFF_PASSWORD,
        "csrf_token": page_csrf_token(client, QUEUE_URL),
    }).status_code == 303
    assert live_sessions(db) == 1


def test_passwords_are_argon2id_and_outdated_hashes_are_upgraded(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    # argon2's least cost: below the test profile (config/test.py) as an outdated hash would
    # be below production's.
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    user = make_staff(db, EMAIL)
    user.password_hash = weak.hash(STAFF_PASSWORD)
    db.commit()
    assert sign_in(client, EMAIL).status_code == 303
    db.refresh(user)
    assert user.password_hash.startswith("$argon2id$")
    with app.app_context():
        configured = extract_parameters(auth.hash_password("anything at all"))
    assert extract_parameters(user.password_hash) == configured
    assert configured.memory_cost > extract_parameters(weak.hash("x")).memory_cost


def test_a_password_hashed_at_production_strength_signs_in_under_the_test_profile(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    defaults = Config(resource_dir("config"))
    defaults.from_pyfile("default.py")
    strong = auth.password_hasher(defaults)
    user = make_staff(db, EMAIL)
    user.password_hash = strong.hash(STAFF_PASSWORD)
    db.commit()
    assert extract_parameters(user.password_hash).memory_cost == 64 * 1024 > app.config[
        "ARGON2_MEMORY_COST"]
    assert sign_in(client, EMAIL, "not the password at all").status_code == 401
    assert sign_in(client, EMAIL).status_code == 303


# --- one answer for every failure ---------------------------------------------------------

def test_unknown_address_wrong_password_and_deactivated_account_look_the_same(
    client: FlaskClient, db: Session
) -> None:
    answers = []
    verify = mock.patch.object(
        PasswordHasher, "verify", autospec=True, side_effect=PasswordHasher.verify
    )
    with verify as spy:
        answers.append(sign_in(client, EMAIL, "a guess at the password"))
        assert spy.call_count == 1, "an unknown address costs one argon2 check too"

        user = make_staff(db, EMAIL)
        spy.reset_mock()
        answers.append(sign_in(client, EMAIL, "a guess at the password"))
        assert spy.call_count == 1

        user.is_active = False
        db.commit()
        spy.reset_mock()
        answers.append(sign_in(client, EMAIL, STAFF_PASSWORD))
        assert spy.call_count == 1

    assert [answer.status_code for answer in answers] == [401, 401, 401]
    pages = [without_csrf_tokens(answer.get_data(as_text=True)) for answer in answers]
    assert SIGN_IN_FAILED in pages[0]
    assert pages[0] == pages[1] == pages[2]
    assert live_sessions(db) == 0
    assert_sent_to_sign_in(client.get(QUEUE_URL))


def test_the_stand_in_hash_costs_what_a_real_one_does(app: Flask) -> None:
    with app.app_context():
        assert extract_parameters(auth._dummy_hash()) == extract_parameters(
            auth.hash_password("anything at all")
        )


# --- sessions -----------------------------------------------------------------------------

def test_anonymous_visitor_is_sent_to_sign_in_and_back(client: FlaskClient, db: Session) -> None:
    make_staff(db, EMAIL)
    response = client.get(QUEUE_URL)
    assert_sent_to_sign_in(response)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Please sign in to use the licensing desk." in page
    assert 'action="/staff/login?next=/staff/"' in page
    answer = sign_in(client, EMAIL, query_string={"next": QUEUE_URL})
    assert answer.headers["Location"] == QUEUE_URL


def test_a_form_sent_after_the_session_ended_leads_back_to_its_page(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.VIEWER)
    token = page_csrf_token(client, QUEUE_URL)
    db.execute(update(StaffSession).values(ended_at=utcnow()))
    db.commit()
    response = client.post("/staff/logout", data={"csrf_token": token},
                           headers={"Referer": "http://localhost/staff/?state=submitted"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/login?next=%2Fstaff%2F%3Fstate%3Dsubmitted"


def test_sign_out_ends_the_session_and_a_replayed_cookie_is_refused(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.ADMIN)
    captured = session_cookie(client)
    response = client.post("/staff/logout", data={"csrf_token": page_csrf_token(client, QUEUE_URL)})
    assert response.status_code == 303
    assert response.headers["Location"] == LOGIN_URL
    assert "You have signed out." in client.get(LOGIN_URL).get_data(as_text=True)
    assert db.scalars(select(StaffSession)).one().ended_at is not None
    assert "_user_id" not in cookie_contents(app, client)

    replay = app.test_client()
    replay.set_cookie("session", captured)
    assert_sent_to_sign_in(replay.get(QUEUE_URL))


@pytest.mark.parametrize("column, age", [
    ("last_seen_at", timedelta(minutes=121)),
    ("created_at", timedelta(hours=12, minutes=1)),
])
def test_idle_and_old_sessions_are_over(
    client: FlaskClient, db: Session, staff_login: StaffLogin, column: str, age: timedelta
) -> None:
    staff_login(StaffRole.ADMIN)
    db.execute(update(StaffSession).values({column: utcnow() - age}))
    db.commit()
    assert_sent_to_sign_in(client.get(QUEUE_URL))


def test_activity_is_recorded_at_most_once_a_minute(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.VIEWER)
    db.execute(update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=90)))
    db.commit()
    assert client.get(QUEUE_URL).status_code == 200
    db.expire_all()
    seen = db.scalars(select(StaffSession)).one().last_seen_at
    assert utcnow() - seen < timedelta(minutes=1)
    assert client.get(QUEUE_URL).status_code == 200
    db.expire_all()
    assert db.scalars(select(StaffSession)).one().last_seen_at == seen


# --- CSRF ---------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_sign_in_with_a_forged_csrf_token_signs_nobody_in(
    client: FlaskClient, db: Session, token: str | None
) -> None:
    make_staff(db, EMAIL)
    data = {"email": EMAIL, "password": STAFF_PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(LOGIN_URL, data=data)
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert live_sessions(db) == 0
    assert_sent_to_sign_in(client.get(QUEUE_URL))


def test_sign_out_with_a_forged_csrf_token_keeps_the_session(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.VIEWER)
    assert client.post("/staff/logout", data={"csrf_token": "forged"}).status_code == 400
    assert live_sessions(db) == 1
    assert client.get(QUEUE_URL).status_code == 200


# --- throttling ---------------------------------------------------------------------------

@pytest.mark.parametrize("app_overrides", [{"STAFF_LOGIN_RATE_LIMIT_ACCOUNT": "3 per 10 minutes"}])
def test_attempts_on_one_account_are_limited_whatever_the_address(
    client: FlaskClient, db: Session
) -> None:
    make_staff(db, EMAIL)
    other = make_staff(db)
    for n, spelling in enumerate([EMAIL, EMAIL.upper(), f" {EMAIL}"], start=1):
        answer = sign_in(client, spelling, "wrong password", environ_base={"REMOTE_ADDR": f"10.0.0.{n}"})
        assert answer.status_code == 401
    blocked = sign_in(client, EMAIL, environ_base={"REMOTE_ADDR": "10.0.0.4"})
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert live_sessions(db) == 0
    assert sign_in(client, other.email, environ_base={"REMOTE_ADDR": "10.0.0.4"}).status_code == 303


@pytest.mark.parametrize("app_overrides", [{"STAFF_LOGIN_RATE_LIMIT_IP": "3 per 10 minutes"}])
def test_attempts_from_one_address_are_limited_whatever_the_account(
    client: FlaskClient, db: Session
) -> None:
    user = make_staff(db, EMAIL)
    here = {"REMOTE_ADDR": "192.0.2.7"}
    for n in range(3):
        answer = sign_in(client, f"guess{n}@northernledger.example", environ_base=here)
        assert answer.status_code == 401
    blocked = sign_in(client, user.email, environ_base=here)
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    assert live_sessions(db) == 0
    assert sign_in(client, user.email, environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 303


# --- where to go after signing in ---------------------------------------------------------

HOSTILE_NEXT = [
    "https://evil.example",
    "https://evil.example/staff/",
    "http:/staff/",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/staff/\\evil.example",
    "/staff/%5C%5Cevil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)//staff/",
    "data:text/html,<script>alert(1)</script>",
    "/staff/../../evil",
    "/staff/..",
    "/staff/./../public",
    "/staff/%2e%2e/%2e%2e/evil",
    "/staff/%2E%2E%2F%2E%2E%2Fevil",
    "/staff/..%2f..%2fevil",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/\t/evil.example",
    "/staff/\t/evil",
    "/staff/%0d%0aSet-Cookie:%20a=b",
    "/staff/\u2028evil",
    "/staff",
    "/",
    "staff/",
    " /staff/",
    "",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_outside_the_back_office_is_refused(target: str) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/staff/", "/staff/requests/RR-2026-00001?tab=quote#fee"])
def test_next_inside_the_back_office_is_followed(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize("target", [
    "https://evil.example", "//evil.example", "/\\evil.example", "/staff/%2e%2e/%2e%2e/evil",
])
def test_sign_in_never_redirects_off_the_back_office(
    client: FlaskClient, db: Session, target: str
) -> None:
    make_staff(db, EMAIL)
    page = client.get(LOGIN_URL, query_string={"next": target}).get_data(as_text=True)
    assert "evil" not in page
    response = sign_in(client, EMAIL, query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == QUEUE_URL


# --- the `staff` commands -----------------------------------------------------------------

def test_create_takes_the_password_from_the_environment(
    client: FlaskClient, db: Session, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(
        args=["staff", "create", "Grace@NorthernLedger.example", "--role", "admin",
              "--name", "Grace Hopper"],
        env={"PORTAL_STAFF_PASSWORD": "a long enough secret"},
    )
    assert result.exit_code == 0, result.output
    assert "Created admin account grace@northernledger.example" in result.output
    user = db.scalars(select(StaffUser)).one()
    assert (user.email, user.role, user.name, user.is_active) == (
        "grace@northernledger.example", StaffRole.ADMIN, "Grace Hopper", True)
    assert user.password_hash.startswith("$argon2id$")
    assert "a long enough secret" not in result.output
    assert sign_in(client, user.email, "a long enough secret").status_code == 303


def test_create_asks_for_the_password_twice(runner: FlaskCliRunner, db: Session) -> None:
    result = runner.invoke(
        args=["staff", "create", EMAIL, "--role", "viewer"],
        env={"PORTAL_STAFF_PASSWORD": None},
        input="twelve chars!\ntwelve chars!\n",
    )
    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert "twelve chars!" not in result.output
    assert db.scalars(select(StaffUser)).one().role == StaffRole.VIEWER


@pytest.mark.parametrize("args, password, message", [
    (["staff", "create", EMAIL, "--role", "admin"], "too short",
     "The password must have at least 12 characters."),
    (["staff", "create", "not-an-address", "--role", "admin"], STAFF_PASSWORD,
     "'not-an-address' is not a valid e-mail address"),
    (["staff", "create", EMAIL, "--role", "owner"], STAFF_PASSWORD,
     "Invalid value for '--role': 'owner' is not one of 'viewer', 'licensing', 'admin'."),
    (["staff", "create", EMAIL], STAFF_PASSWORD, "Missing option '--role'"),
])
def test_create_refuses_bad_input_clearly(
    runner: FlaskCliRunner, db: Session, args: list[str], password: str, message: str
) -> None:
    result = runner.invoke(args=args, env={"PORTAL_STAFF_PASSWORD": password})
    assert result.exit_code != 0
    assert message in result.output
    assert db.scalar(select(func.count()).select_from(StaffUser)) == 0


def test_create_refuses_an_address_already_taken(runner: FlaskCliRunner, db: Session) -> None:
    make_staff(db, EMAIL)
    result = runner.invoke(args=["staff", "create", EMAIL.upper(), "--role", "admin"],
                           env={"PORTAL_STAFF_PASSWORD": STAFF_PASSWORD})
    assert result.exit_code == 1
    assert f"There is already a staff account for {EMAIL}." in result.output
    assert db.scalar(select(func.count()).select_from(StaffUser)) == 1


def test_deactivate_signs_the_user_out_everywhere(
    app: Flask, client: FlaskClient, db: Session, runner: FlaskCliRunner,
    staff_login: StaffLogin,
) -> None:
    user = staff_login(StaffRole.ADMIN, email=EMAIL)
    elsewhere = app.test_client()
    assert sign_in(elsewhere, EMAIL).status_code == 303

    result = runner.invoke(args=["staff", "deactivate", EMAIL])
    assert result.exit_code == 0, result.output
    assert f"Deactivated {EMAIL}; ended 2 sessions." in result.output
    db.refresh(user)
    assert not user.is_active
    assert_sent_to_sign_in(client.get(QUEUE_URL))
    assert_sent_to_sign_in(elsewhere.get(QUEUE_URL))
    assert sign_in(client, EMAIL).status_code == 401


def test_deactivate_names_an_unknown_address(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["staff", "deactivate", "nobody@northernledger.example"])
    assert result.exit_code == 1
    assert "There is no staff account for nobody@northernledger.example." in result.output


def test_set_password_replaces_it_and_signs_the_user_out(
    app: Flask, client: FlaskClient, db: Session, runner: FlaskCliRunner,
    staff_login: StaffLogin,
) -> None:
    staff_login(StaffRole.LICENSING, email=EMAIL)
    assert client.get("/staff/").status_code == 200
    result = runner.invoke(args=["staff", "set-password", EMAIL],
                           env={"PORTAL_STAFF_PASSWORD": "a brand new passphrase"})
    assert result.exit_code == 0, result.output
    assert f"New password set for {EMAIL}; ended 1 session." in result.output
    assert client.get("/staff/").status_code == 303  # signed out
    fresh = app.test_client()
    assert sign_in(fresh, EMAIL, STAFF_PASSWORD).status_code == 401
    assert sign_in(fresh, EMAIL, "a brand new passphrase").status_code == 303


@pytest.mark.parametrize(("email", "password", "message"), [
    ("nobody@northernledger.example", STAFF_PASSWORD, "There is no staff account"),
    (EMAIL, "short", "at least 12 characters"),
])
def test_set_password_refuses_clearly(runner: FlaskCliRunner, db: Session, email: str,
                                      password: str, message: str) -> None:
    user = make_staff(db, EMAIL)
    before = user.password_hash
    result = runner.invoke(args=["staff", "set-password", email],
                           env={"PORTAL_STAFF_PASSWORD": password})
    assert result.exit_code == 1 and message in result.output
    db.expire_all()
    assert db.get(StaffUser, user.id).password_hash == before
