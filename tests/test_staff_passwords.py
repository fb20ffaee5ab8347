"""A staff member's own password: changing it (current one, new one twice), the "forgot your
password?" link by e-mail (same answer for any address, single use, expiring, ends every
session), and the breached-password check on every new password."""

import hashlib
import re
import time
from pathlib import Path
from unittest import mock

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from itsdangerous import TimestampSigner
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.notifications.models import OutboxEmail
from portal.staff import auth
from portal.staff.breached import BREACHED
from portal.staff.models import StaffRole
from tests.staff_fixtures import (
    LOGIN_URL,
    STAFF_PASSWORD,
    StaffLogin,
    make_staff,
    page_csrf_token,
    sign_in,
)

EMAIL = "ada@northernledger.example"
FORGOT_URL = "/staff/password/forgot"
CHANGE_URL = "/staff/account/password"
NEW_PASSWORD = "quay street tide clock"


def outbox(db: Session) -> list[OutboxEmail]:
    db.expire_all()
    return list(db.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def ask_for_link(client: FlaskClient, email: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return client.post(FORGOT_URL, data={"email": email,
                                         "csrf_token": page_csrf_token(client, FORGOT_URL)},
                       **kwargs)  # type: ignore[arg-type]


def reset_path(email: OutboxEmail) -> str:
    match = re.search(r"http://localhost(/staff/password/reset/\S+)", email.text_body)
    assert match, email.text_body
    return match.group(1)


def choose(client: FlaskClient, path: str, password: str = NEW_PASSWORD,
           repeat: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(path, data={"new_password": password, "repeat": repeat or password,
                                   "csrf_token": page_csrf_token(client, path)})


def change(client: FlaskClient, current: str, new: str = NEW_PASSWORD,
           repeat: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(CHANGE_URL, data={
        "current_password": current, "new_password": new, "repeat": repeat or new,
        "csrf_token": page_csrf_token(client, CHANGE_URL)})


def without_tokens(page: str) -> str:
    return re.sub(r'name="csrf_token"([^>]*) value="[^"]+"', "", page)


# --- forgot your password? ----------------------------------------------------------------

def test_the_sign_in_page_offers_a_way_back_in(client: FlaskClient) -> None:
    page = client.get(LOGIN_URL).get_data(as_text=True)
    assert f'<a href="{FORGOT_URL}">Forgot your password?</a>' in page
    form = client.get(FORGOT_URL).get_data(as_text=True)
    assert "<h1>Forgot your password?</h1>" in form and 'autocomplete="username"' in form


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(
    app: Flask, db: Session
) -> None:
    make_staff(db, EMAIL)
    make_staff(db, "gone@northernledger.example", is_active=False)
    pages = []
    for address in (EMAIL, "nobody@northernledger.example", "gone@northernledger.example"):
        client = app.test_client()
        answer = ask_for_link(client, address)
        assert answer.status_code == 303 and answer.headers["Location"] == LOGIN_URL
        page = client.get(LOGIN_URL).get_data(as_text=True)
        pages.append(without_tokens(page).replace(address, "ADDRESS"))
    assert "If ADDRESS is the address of a staff account, we have sent it a link" in pages[0]
    assert pages[0] == pages[1] == pages[2]
    sent = outbox(db)
    assert [email.to_address for email in sent] == [EMAIL]
    assert sent[0].template == "staff_password_reset"
    assert sent[0].subject == "Choose a new password for the licensing desk"
    assert "within 60 minutes" in sent[0].text_body and "reset" in (sent[0].html_body or "")


def test_a_reset_link_sets_the_password_once_and_ends_every_session(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.LICENSING, email=EMAIL)  # signed in elsewhere: ended by the reset
    stranger = app.test_client()
    assert ask_for_link(stranger, EMAIL).status_code == 303
    path = reset_path(outbox(db)[0])
    page = stranger.get(path)
    assert page.status_code == 200 and EMAIL in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"

    done = choose(stranger, path)
    assert done.status_code == 303 and done.headers["Location"] == LOGIN_URL
    assert "every session of your account has ended" in stranger.get(LOGIN_URL).get_data(
        as_text=True)
    assert client.get("/staff/").status_code == 303  # the other session is over
    assert sign_in(app.test_client(), EMAIL, STAFF_PASSWORD).status_code == 401
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 303

    again = app.test_client().get(path)
    assert again.status_code == 410
    assert "This link no longer works" in again.get_data(as_text=True)
    late = app.test_client()
    replay = late.post(path, data={"new_password": "another fine passphrase",
                                   "repeat": "another fine passphrase",
                                   "csrf_token": page_csrf_token(late)})
    assert replay.status_code == 410
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 303


def test_a_reset_link_expires(app: Flask, client: FlaskClient, db: Session) -> None:
    make_staff(db, EMAIL)
    ask_for_link(client, EMAIL)
    path = reset_path(outbox(db)[0])
    later = int(time.time()) + 61 * 60
    with mock.patch.object(TimestampSigner, "get_timestamp", return_value=later):
        assert client.get(path).status_code == 410
    assert client.get(path).status_code == 200


def test_a_tampered_link_is_refused(client: FlaskClient, db: Session) -> None:
    make_staff(db, EMAIL)
    ask_for_link(client, EMAIL)
    path = reset_path(outbox(db)[0])
    assert client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB")).status_code == 410


@pytest.mark.parametrize("app_overrides", [{"STAFF_PASSWORD_RESET_EMAIL_LIMIT": "2 per hour"}])
def test_one_address_gets_only_so_many_links(app: Flask, db: Session) -> None:
    make_staff(db, EMAIL)
    for n in range(4):
        answer = ask_for_link(app.test_client(), EMAIL, environ_base={"REMOTE_ADDR": f"10.9.0.{n}"})
        assert answer.status_code == 303
    assert len(outbox(db)) == 2


@pytest.mark.parametrize("app_overrides", [{"STAFF_PASSWORD_RESET_RATE_LIMIT": "2 per hour"}])
def test_link_requests_from_one_address_are_limited(client: FlaskClient, db: Session) -> None:
    for n in range(2):
        assert ask_for_link(client, f"guess{n}@northernledger.example").status_code == 303
    blocked = ask_for_link(client, EMAIL)
    assert blocked.status_code == 429
    assert '<body class="staff">' in blocked.get_data(as_text=True)


def test_the_new_password_is_checked_on_the_reset_page(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    user = make_staff(db, EMAIL)
    ask_for_link(client, EMAIL)
    path = reset_path(outbox(db)[0])
    for password, repeat, message in [
        ("password1234", None, BREACHED),
        ("too short", None, "at least 12 characters"),
        (NEW_PASSWORD, "something else entirely", "The two new passwords differ"),
    ]:
        answer = choose(client, path, password, repeat)
        assert answer.status_code == 422
        assert message in answer.get_data(as_text=True)
    db.refresh(user)
    assert sign_in(app.test_client(), EMAIL, STAFF_PASSWORD).status_code == 303


# --- changing one's own password ----------------------------------------------------------

def test_changing_the_password_keeps_this_session_and_ends_the_others(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.VIEWER, email=EMAIL)
    elsewhere = app.test_client()
    assert sign_in(elsewhere, EMAIL).status_code == 303
    assert 'href="/staff/account/password"' in client.get("/staff/").get_data(as_text=True)

    done = change(client, STAFF_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"] == "/staff/"
    assert "Any other sessions of your account have ended." in client.get("/staff/").get_data(
        as_text=True)
    assert elsewhere.get("/staff/").status_code == 303
    assert sign_in(app.test_client(), EMAIL, STAFF_PASSWORD).status_code == 401
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize("current, new, repeat, status, message", [
    ("not my password", NEW_PASSWORD, None, 401, "That is not your current password."),
    (STAFF_PASSWORD, "iloveyou12345", None, 422, BREACHED),
    (STAFF_PASSWORD, NEW_PASSWORD, "quay street tide clocks", 422, "The two new passwords differ"),
    (STAFF_PASSWORD, "short one", None, 422, "at least 12 characters"),
])
def test_a_password_change_is_refused_clearly(
    app: Flask, client: FlaskClient, staff_login: StaffLogin,
    current: str, new: str, repeat: str | None, status: int, message: str,
) -> None:
    staff_login(StaffRole.VIEWER, email=EMAIL)
    answer = change(client, current, new, repeat)
    assert answer.status_code == status
    assert message in answer.get_data(as_text=True)
    assert sign_in(app.test_client(), EMAIL, STAFF_PASSWORD).status_code == 303


@pytest.mark.parametrize("app_overrides", [{"STAFF_LOGIN_RATE_LIMIT_ACCOUNT": "2 per 10 minutes"}])
def test_guessing_the_current_password_is_throttled(
    client: FlaskClient, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.VIEWER, email=EMAIL)
    for _ in range(2):
        assert change(client, "a guess").status_code == 401
    assert change(client, STAFF_PASSWORD).status_code == 429


# --- the breached-password check ----------------------------------------------------------

def test_every_way_of_setting_a_password_refuses_breached_ones(
    runner: FlaskCliRunner, db: Session
) -> None:
    make_staff(db, EMAIL)
    result = runner.invoke(args=["staff", "set-password", EMAIL],
                           env={"PORTAL_STAFF_PASSWORD": "1qaz2wsx3edc"})
    assert result.exit_code == 1 and "leaked from other sites" in result.output
    result = runner.invoke(args=["staff", "create", "new@northernledger.example", "--role",
                                 "viewer"], env={"PORTAL_STAFF_PASSWORD": "Password1234"})
    assert result.exit_code == 1 and "leaked from other sites" in result.output


def test_a_list_file_given_by_the_setting_is_checked_too(app: Flask, tmp_path: Path) -> None:
    listed = "northern lights over the quay"
    hashed = "tyne bridge at midnight"
    path = tmp_path / "breached.txt"
    sha1 = hashlib.sha1(hashed.encode()).hexdigest().upper()
    path.write_text(f"{listed}\n{sha1}:42\n\n", encoding="utf-8")
    with app.app_context():
        for password in (listed, hashed):
            auth.check_password_policy(password)  # not on the shipped list
        app.config["STAFF_BREACHED_PASSWORDS_FILE"] = str(path)
        for password in (listed, hashed):
            with pytest.raises(auth.StaffAccountError, match="leaked from other sites"):
                auth.check_password_policy(password)
        auth.check_password_policy(NEW_PASSWORD)
