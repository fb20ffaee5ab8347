"""The licensing desk in a real browser: sign in, the queue, a request, a quote; and the
requester accepting it. Without JavaScript, at desktop and phone width."""

import re

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD
from tests.browser.conftest import fill_request_form, fits_the_screen, shoot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _send_request(browser, live_url: str, organisation: str) -> str:
    """A requester sends the form; returns their status page's address."""
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_url + "/articles/harbour-town-votes-to-own-its-wind-farm/republish")
    page.get_by_label("Your name").fill("Jane Reader")
    fill_request_form(page, organisation)
    page.wait_for_url(re.compile(r"/requests/[A-Za-z0-9_-]{43}$"))
    url = page.url
    context.close()
    return url


@pytest.mark.parametrize(("viewport", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_desk_quotes_and_requester_accepts(browser, live_url: str, viewport, label: str) -> None:
    status_url = _send_request(browser, live_url, f"Coastal Gazette ({label})")

    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_url + "/staff/")
    assert "/staff/login" in page.url
    shoot(page, f"{label}-10-staff-sign-in")
    page.get_by_label("E-mail address").fill(DEMO_STAFF_EMAIL)
    page.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Requests")).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, f"{label}-11-staff-queue")

    row = page.locator("tr", has_text=f"Coastal Gazette ({label})")
    row.get_by_role("link", name=re.compile(r"RR-\d{4}-\d{5}")).click()
    expect(page.get_by_role("heading", name="Suggested fee")).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, f"{label}-12-staff-request")
    page.get_by_role("button", name="Send quote").click()
    expect(page.get_by_text("Quote sent to jane@gazette.example")).to_be_visible()
    shoot(page, f"{label}-13-staff-quoted")
    context.close()

    requester = browser.new_context(viewport=viewport, java_script_enabled=False)
    mine = requester.new_page()
    mine.goto(status_url)
    expect(mine.get_by_role("heading", name="Your quote")).to_be_visible()
    assert fits_the_screen(mine)
    shoot(mine, f"{label}-14-requester-quote")
    mine.get_by_role("button", name="Accept and pay").click()
    # The demo provider's test payment page: labelled as such, no card asked for.
    assert "/payments/demo/" in mine.url
    expect(mine.get_by_text("Demonstration only.")).to_be_visible()
    assert fits_the_screen(mine)
    shoot(mine, f"{label}-15-demo-checkout")
    mine.get_by_role("button", name=re.compile(r"Pay .* \(test\)")).click()
    expect(mine.get_by_text(re.compile(r"Your payment is confirmed and your licence "
                                       r"LIC-\d{4}-\d{6} is issued\."))).to_be_visible()
    expect(mine.get_by_role("heading", name="Your licence")).to_be_visible()
    licence = re.search(r"LIC-\d{4}-\d{6}", mine.content()).group(0)
    reference = re.search(r"RR-\d{4}-\d{5}", mine.content()).group(0)
    expect(mine.get_by_role("heading", name="The text to publish")).to_be_visible()
    assert fits_the_screen(mine)
    shoot(mine, f"{label}-16-requester-licensed")
    mine.get_by_role("link", name="Public record").click()
    expect(mine.get_by_text("This licence is Valid.")).to_be_visible()
    assert fits_the_screen(mine)
    shoot(mine, f"{label}-20-licence-verification")
    requester.close()

    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_url + "/staff/login")
    page.get_by_label("E-mail address").fill(DEMO_STAFF_EMAIL)
    page.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_url}/staff/requests/{reference}")
    expect(page.get_by_role("heading", name="Payment and licence")).to_be_visible()
    expect(page.get_by_text(licence).first).to_be_visible()
    shoot(page, f"{label}-17-staff-paid")
    assert fits_the_screen(page)
    context.close()


@pytest.mark.parametrize(("viewport", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_an_institution_pays_by_invoice(browser, live_url: str, viewport, label: str) -> None:
    """Staff let a university pay by invoice; the buyer gets the invoice; a transfer that
    falls short is held for staff, and the right amount licenses the request."""
    status_url = _send_request(browser, live_url, f"Northern University ({label})")

    desk = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = desk.new_page()
    page.goto(live_url + "/staff/login")
    page.get_by_label("E-mail address").fill(DEMO_STAFF_EMAIL)
    page.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("tr", has_text=f"Northern University ({label})") \
        .get_by_role("link", name=re.compile(r"RR-\d{4}-\d{5}")).click()
    page.wait_for_url(re.compile(r"/staff/requests/RR-\d{4}-\d{5}$"))
    request_url = page.url
    page.locator("summary", has_text="Payment method").click()
    page.get_by_label("How this request is paid").select_option("invoice")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Payment method saved.")).to_be_visible()
    page.get_by_role("button", name="Send quote").click()

    buyer = browser.new_context(viewport=viewport, java_script_enabled=False)
    mine = buyer.new_page()
    mine.goto(status_url)
    mine.get_by_role("button", name="Accept and get an invoice").click()
    expect(mine.get_by_role("heading", name="Payment")).to_be_visible()
    invoice = re.search(r"INV-\d{4}-\d{5}", mine.content()).group(0)
    expect(mine.get_by_role("link", name="Download the invoice (PDF)")).to_be_visible()
    assert fits_the_screen(mine)
    shoot(mine, f"{label}-18-requester-invoice")
    pdf = mine.request.get(live_url + mine.get_by_role(
        "link", name="Download the invoice (PDF)").get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")

    page.goto(request_url)
    page.locator("summary", has_text=f"Mark invoice {invoice} paid").click()
    page.get_by_label("Amount received").fill("1.00")
    page.get_by_label("Bank reference of the transfer").fill("TRF 1182")
    page.get_by_role("button", name="Mark paid and issue the licence").click()
    expect(page.get_by_role("heading", name="A payment needs your attention")).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, f"{label}-19-staff-held-payment")
    buyer.close()
    desk.close()
