"""Two-factor sign-in for staff: enrolment by QR code, the second step at sign-in (codes used
once, guesses throttled, a short wait), recovery codes, turning it off, and STAFF_2FA=required
for admins."""

import re
import time

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session

from portal.staff import two_factor
from portal.staff.auth_views import PENDING, WRONG_CODE
from portal.staff.models import StaffRole, StaffUser
from tests.staff_fixtures import STAFF_PASSWORD, StaffLogin, make_staff, page_csrf_token, sign_in

EMAIL = "ada@northernledger.example"
PAGE = "/staff/account/two-factor"
CODE_URL = "/staff/login/code"


def post_page(client: FlaskClient, **data: str):  # type: ignore[no-untyped-def]
    return client.post(PAGE, data={**data, "csrf_token": page_csrf_token(client, PAGE)})


def enrol(client: FlaskClient) -> tuple[str, list[str]]:
    """Turn two-factor sign-in on as a person would; (secret, recovery codes)."""
    page = client.get(PAGE).get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)  # type: ignore[union-attr]
    # (a code from the step before, so that signing in right after has a fresh one)
    code = pyotp.TOTP(secret).at(time.time() - 30)
    answer = post_page(client, action="enable", code=code)
    assert answer.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>",
                       answer.get_data(as_text=True))
    return secret, codes


def send_code(client: FlaskClient, code: str):  # type: ignore[no-untyped-def]
    return client.post(CODE_URL, data={"code": code,
                                       "csrf_token": page_csrf_token(client, CODE_URL)})


def test_enrolment_shows_a_qr_code_and_needs_a_right_code(
    client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    user = staff_login(StaffRole.LICENSING, email=EMAIL)
    page = client.get(PAGE).get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page and 'alt="QR code for your authenticator app' in page
    assert 'autocomplete="one-time-code"' in page
    wrong = post_page(client, action="enable", code="000000")
    assert wrong.status_code == 422 and "That code does not match" in wrong.get_data(as_text=True)
    db.refresh(user)
    assert user.totp_secret is None

    secret, codes = enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    db.refresh(user)
    assert user.totp_secret == secret
    assert not any(code in user.recovery_code_hashes for code in codes)
    assert "<strong>On.</strong>" in client.get(PAGE).get_data(as_text=True)


def test_sign_in_asks_for_a_code_and_accepts_each_once(
    app: Flask, client: FlaskClient, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.LICENSING, email=EMAIL)
    secret, _codes = enrol(client)

    browser = app.test_client()
    first = sign_in(browser, EMAIL)
    assert first.status_code == 303 and first.headers["Location"] == CODE_URL
    assert browser.get("/staff/").status_code == 303  # not signed in yet
    code = pyotp.TOTP(secret).now()
    done = send_code(browser, code)
    assert done.status_code == 303 and done.headers["Location"] == "/staff/"
    assert browser.get("/staff/").status_code == 200

    again = app.test_client()
    assert sign_in(again, EMAIL).status_code == 303
    replay = send_code(again, code)
    assert replay.status_code == 401 and WRONG_CODE in replay.get_data(as_text=True)
    assert again.get("/staff/").status_code == 303


def test_a_recovery_code_works_once(app: Flask, client: FlaskClient,
                                    staff_login: StaffLogin) -> None:
    staff_login(StaffRole.VIEWER, email=EMAIL)
    _secret, codes = enrol(client)
    for expected in (303, 401):
        browser = app.test_client()
        sign_in(browser, EMAIL)
        assert send_code(browser, codes[0].upper().replace("-", " ")).status_code == expected


def test_the_code_step_waits_only_a_few_minutes(
    app: Flask, client: FlaskClient, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.VIEWER, email=EMAIL)
    secret, _codes = enrol(client)
    browser = app.test_client()
    sign_in(browser, EMAIL)
    with browser.session_transaction() as session:
        session[PENDING] = {**session[PENDING], "at": int(time.time()) - 301}
    late = browser.get(CODE_URL)
    assert late.status_code == 303 and late.headers["Location"] == "/staff/login"
    # a code alone, without the password first, signs nobody in
    stranger = app.test_client()
    answer = stranger.post(CODE_URL, data={"code": pyotp.TOTP(secret).now(),
                                           "csrf_token": page_csrf_token(stranger)})
    assert answer.headers["Location"] == "/staff/login"
    assert stranger.get("/staff/").status_code == 303


@pytest.mark.parametrize("app_overrides", [{"STAFF_LOGIN_RATE_LIMIT_ACCOUNT": "2 per 10 minutes"}])
def test_wrong_codes_are_throttled(app: Flask, client: FlaskClient, db: Session) -> None:
    user = make_staff(db, EMAIL)
    with app.app_context():
        secret = two_factor.new_secret()
        user.totp_secret = secret
        db.commit()
    browser = app.test_client()
    sign_in(browser, EMAIL)
    for _ in range(2):
        assert send_code(browser, "123456").status_code == 401
    assert send_code(browser, pyotp.TOTP(secret).now()).status_code == 429


def test_turning_it_off_needs_the_password(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    user = staff_login(StaffRole.VIEWER, email=EMAIL)
    enrol(client)
    assert post_page(client, action="disable", password="a guess").status_code == 401
    assert post_page(client, action="disable", password=STAFF_PASSWORD).status_code == 303
    db.refresh(user)
    assert user.totp_secret is None and user.recovery_code_hashes == ""
    assert sign_in(app.test_client(), EMAIL).headers["Location"] == "/staff/"


@pytest.mark.parametrize("app_overrides", [{"STAFF_2FA": "required"}])
def test_admins_must_turn_it_on_when_required(
    app: Flask, client: FlaskClient, db: Session, staff_login: StaffLogin
) -> None:
    make_staff(db, EMAIL, StaffRole.ADMIN)
    answer = sign_in(client, EMAIL)
    assert answer.status_code == 303 and answer.headers["Location"] == PAGE
    assert client.get("/staff/").headers["Location"] == PAGE
    assert client.get("/staff/users").headers["Location"] == PAGE
    assert "Administrators must use two-factor sign-in." in client.get(PAGE).get_data(
        as_text=True)
    enrol(client)
    assert client.get("/staff/users").status_code == 200
    refused = post_page(client, action="disable", password=STAFF_PASSWORD)
    assert refused.status_code == 303
    db.expire_all()
    assert db.query(StaffUser).filter_by(email=EMAIL).one().totp_secret is not None

    other = app.test_client()
    staff_login(StaffRole.LICENSING, client=other)
    assert other.get("/staff/").status_code == 200  # not required below admin


def test_an_admin_can_turn_it_off_for_someone_who_lost_their_phone(
    app: Flask, client: FlaskClient, db: Session, runner: FlaskCliRunner,
    staff_login: StaffLogin,
) -> None:
    user = staff_login(StaffRole.VIEWER, email=EMAIL)
    enrol(client)
    result = runner.invoke(args=["staff", "reset-two-factor", EMAIL])
    assert result.exit_code == 0, result.output
    assert f"Two-factor sign-in is off for {EMAIL}; ended 1 session." in result.output
    db.refresh(user)
    assert user.totp_secret is None
    assert client.get("/staff/").status_code == 303
    assert sign_in(app.test_client(), EMAIL).headers["Location"] == "/staff/"
