"""The security log in a real browser, without JavaScript, at phone and desktop width: a wrong
password is tried, the admin signs in, opens the log from the menu, and filters it down to the
failed sign-in."""

import re

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD
from tests.browser.conftest import fits_the_screen, shoot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.parametrize(("viewport", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_an_admin_finds_a_failed_sign_in(browser, live_url: str, viewport, label: str) -> None:
    guesser = f"guesser.{label}@example.org"
    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_url + "/staff/login")
    page.get_by_label("E-mail address").fill(guesser)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong e-mail address or password.")).to_be_visible()
    page.get_by_label("E-mail address").fill(DEMO_STAFF_EMAIL)
    page.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Requests")).to_be_visible()

    page.get_by_role("link", name="Security log").click()
    expect(page.get_by_role("heading", name="Security log", level=1)).to_be_visible()
    rows = page.locator("table.security-log tbody tr")
    expect(rows.filter(has_text=guesser)).to_have_count(1)
    expect(rows.filter(has_text="Signed in").filter(has_text=DEMO_STAFF_EMAIL).first).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, f"{label}-40-security-log")

    page.get_by_label("Event", exact=True).select_option("sign_in_failed")
    page.get_by_label("Search").fill(guesser)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"kind=sign_in_failed"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Sign-in failed")
    expect(rows.first).to_contain_text("from 127.0.0.1")
    assert fits_the_screen(page)
    shoot(page, f"{label}-41-security-log-filtered")
    context.close()
