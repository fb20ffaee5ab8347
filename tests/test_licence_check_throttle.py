"""Guessing licence check codes is throttled: wrong codes on /licences/<number> and its .json
are counted per client address and per licence number (throttle.check_code_limits); a right
code, or a visit without a code, costs nothing. Past a limit the answer is the styled 429 (a
JSON one for .json) with Retry-After, a right code included; the control shows the same
guesses answered normally when the limits are high."""

import re
import runpy
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from limits import parse_many
from sqlalchemy.orm import Session

from portal.licences.models import Licence
from tests.test_licences import licensed

WRONG = "ZZZZ-ZZZZ"
UNKNOWN = "LIC-2026-999999"
GUESSES = 6
ROOT = Path(__file__).resolve().parents[1]


def wrong_code(licence: Licence) -> str:
    return "0000-0000" if licence.check_code != "0000-0000" else WRONG


def get(client: FlaskClient, url: str, address: str = "198.51.100.7", **args: str):
    return client.get(url, query_string=args, environ_base={"REMOTE_ADDR": address})


def assert_refused(response, reason: str) -> None:
    assert response.status_code == 429, response.status_code
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    if response.is_json:
        assert response.json["error"] == "too many attempts"
        assert reason in response.json["detail"]
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    else:
        page = response.get_data(as_text=True)
        assert "Too many attempts" in page and reason in page
        assert re.search(r"try again (on \d{1,2} \w+ \d{4} )?at \d\d:\d\d UTC", page), page


@pytest.mark.parametrize("app_overrides", [{"LICENCE_CHECK_RATE_LIMIT": "3 per minute"}])
def test_wrong_check_codes_beyond_the_limit_get_429_with_retry_after(
    app: Flask, db: Session
) -> None:
    _buyer, licence = licensed(app, db)
    client = app.test_client()
    url, json_url = f"/licences/{licence.number}", f"/licences/{licence.number}.json"
    # a number never issued counts like a real one (the limit reveals nothing), and the page
    # and its JSON count together
    assert get(client, url, code=wrong_code(licence)).status_code == 404
    assert get(client, f"/licences/{UNKNOWN}", code=WRONG).status_code == 404
    assert get(client, json_url, code=WRONG).status_code == 404
    assert_refused(get(client, url, code=WRONG), "from your address")
    assert_refused(get(client, json_url, code=WRONG), "from your address")
    # while it lasts, the right code is refused too (else guessing through the 429s would
    # find it by the 200); a visit without a code still gets the page on how to verify
    assert_refused(get(client, url, code=licence.check_code), "from your address")
    assert_refused(get(client, json_url, code=licence.check_code), "from your address")
    assert get(client, url).status_code == 404
    # other addresses are not affected
    assert get(client, url, "203.0.113.9", code=licence.check_code).status_code == 200


@pytest.mark.parametrize("app_overrides", [{"LICENCE_CHECK_RATE_LIMIT": "2 per minute",
                                            "LICENCE_CHECK_RATE_LIMIT_NUMBER": "2 per minute"}])
def test_right_codes_and_visits_without_a_code_are_not_counted(
    app: Flask, db: Session
) -> None:
    _buyer, licence = licensed(app, db)
    client = app.test_client()
    url, json_url = f"/licences/{licence.number}", f"/licences/{licence.number}.json"
    for _ in range(GUESSES):
        assert get(client, url, code=licence.check_code).status_code == 200
        assert get(client, json_url, code=licence.check_code.lower()).status_code == 200
        assert get(client, url).status_code == 404
        assert get(client, url, code=" ").status_code == 404
        assert get(client, json_url).status_code == 404
    # the whole allowance is still there
    assert get(client, url, code=wrong_code(licence)).status_code == 404
    assert get(client, json_url, code=wrong_code(licence)).status_code == 404
    assert get(client, url, code=wrong_code(licence)).status_code == 429


@pytest.mark.parametrize("app_overrides", [{"LICENCE_CHECK_RATE_LIMIT": "1000 per minute",
                                            "LICENCE_CHECK_RATE_LIMIT_NUMBER": "3 per minute"}])
def test_the_per_licence_limit_holds_across_client_addresses(
    app: Flask, db: Session
) -> None:
    _one, licence = licensed(app, db)
    _two, other = licensed(app, db)
    client = app.test_client()
    url, json_url = f"/licences/{licence.number}", f"/licences/{licence.number}.json"
    for n in range(3):
        assert get(client, url, f"192.0.2.{n + 1}", code=wrong_code(licence)).status_code == 404
    assert_refused(get(client, url, "192.0.2.50", code=wrong_code(licence)),
                   "for this licence number")
    assert_refused(get(client, json_url, "192.0.2.51", code=wrong_code(licence)),
                   "for this licence number")
    assert_refused(get(client, url, "192.0.2.52", code=licence.check_code),
                   "for this licence number")
    # another licence, from the same addresses, is answered as usual
    assert get(client, f"/licences/{other.number}", "192.0.2.1",
               code=other.check_code).status_code == 200
    assert get(client, f"/licences/{other.number}.json", "192.0.2.2",
               code=wrong_code(other)).status_code == 404


@pytest.mark.parametrize("app_overrides", [{"LICENCE_CHECK_RATE_LIMIT": "1000 per minute",
                                            "LICENCE_CHECK_RATE_LIMIT_NUMBER": "1000 per minute"}])
def test_the_control_with_high_limits_every_guess_gets_the_normal_answer(
    app: Flask, db: Session
) -> None:
    """The same guesses as above, from one address and from several: nothing is refused."""
    _buyer, licence = licensed(app, db)
    client = app.test_client()
    url, json_url = f"/licences/{licence.number}", f"/licences/{licence.number}.json"
    for n in range(GUESSES):
        assert get(client, url, code=wrong_code(licence)).status_code == 404
        assert get(client, json_url, code=WRONG).status_code == 404
        assert get(client, url, f"192.0.2.{n + 1}", code=wrong_code(licence)).status_code == 404
    assert get(client, url, code=licence.check_code).status_code == 200
    assert get(client, json_url, "192.0.2.1", code=licence.check_code).status_code == 200


def test_the_per_licence_window_is_short_and_no_single_address_fills_it() -> None:
    """A stranger can refuse one licence's check to everyone only while the per-licence window
    lasts (a minute at most), and never from one address alone: one address is stopped by its
    own limit before it reaches the licence's."""
    defaults = runpy.run_path(str(ROOT / "config" / "default.py"))
    by_number = parse_many(defaults["LICENCE_CHECK_RATE_LIMIT_NUMBER"])
    by_address = parse_many(defaults["LICENCE_CHECK_RATE_LIMIT"])
    assert by_number and all(item.get_expiry() <= 60 for item in by_number)
    per_minute = min(item.amount for item in by_address if item.get_expiry() <= 60)
    assert all(item.amount > per_minute for item in by_number)
