"""A staff member's password pages in a real browser, at phone and desktop width, without
JavaScript: "Forgot your password?" from the sign-in page, changing one's password and turning
two-factor sign-in on and off from the header."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD
from tests.browser.conftest import fits_the_screen, shoot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_password_pages_work_and_fit(browser, live_url: str, viewport, label: str) -> None:
    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_url}/staff/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    assert fits_the_screen(page)
    page.get_by_label("E-mail address").fill("nobody@northernledger.example")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.locator("main")).to_contain_text("we have sent it a link")
    assert fits_the_screen(page)

    page.get_by_label("E-mail address").fill(DEMO_STAFF_EMAIL)
    page.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Password", exact=True).click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    assert fits_the_screen(page)
    page.get_by_label("Current password").fill("not the password")
    page.get_by_label("New password", exact=True).fill("quay street tide clock")
    page.get_by_label("New password again").fill("quay street tide clock")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("main")).to_contain_text("That is not your current password.")
    assert fits_the_screen(page)
    shoot(page, f"staff-change-password-{label}")

    page.get_by_role("link", name="Two-factor").click()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    assert fits_the_screen(page)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.content())
    assert secret
    page.get_by_label("Code from your app").fill(pyotp.TOTP(secret.group(1)).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, f"staff-recovery-codes-{label}")
    page.get_by_label("Your password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name="Turn two-factor sign-in off").click()
    expect(page.locator("main")).to_contain_text("Two-factor sign-in is off.")
    context.close()
