"""Paying by card in a real browser: the portal with the Stripe provider (against the fake
Stripe API), Stripe's hosted pages answered by stand-ins at their real addresses
(tests/browser/stripe_hosted.py), and every step watched for Content-Security-Policy
violations, which silently stop a buyer on the way to Stripe or back."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlalchemy import select

from portal.db import utcnow
from portal.licensing import services
from portal.licensing.models import RepublishRequest
from portal.money import Money
from tests.browser.conftest import demo_portal, fill_request_form, shoot
from tests.browser.stripe_hosted import HostedCheckout, csp_watch, install_hosted_checkout, install_receipts
from tests.fake_stripe import FakeStripe
from tests.payments_support import stripe_config

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WAIT_MS = 15_000  # the longest any step may take
ARTICLE = "/articles/harbour-town-votes-to-own-its-wind-farm/republish"
HOSTED_PAGE = re.compile(r"https://checkout\.stripe\.com/c/pay/cs_test_[A-Za-z0-9]+")
RECEIPT = re.compile(r"https://pay\.stripe\.com/receipts/payment/ch_[A-Za-z0-9]+")
LICENCE = re.compile(r"LIC-\d{4}-\d{6}")


@dataclass
class LivePortal:
    """The portal on 127.0.0.1, paying through the fake Stripe."""

    app: Flask
    base: str
    fake: FakeStripe


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, fake_stripe_server: FakeStripe) -> Iterator[LivePortal]:
    """Like tests/browser/conftest.py's live_url, with the Stripe provider. The fake Stripe
    server is the session's (``fake_stripe`` is per test): each test empties it itself."""
    with demo_portal(tmp_path_factory.mktemp("live-stripe"),
                     **stripe_config(fake_stripe_server)) as (app, base):
        yield LivePortal(app, base, fake_stripe_server)


@pytest.fixture
def fake(portal: LivePortal) -> FakeStripe:
    """The fake Stripe, emptied for this test (each test makes its own request)."""
    portal.fake.reset()
    return portal.fake


@dataclass
class Shopper:
    """One buyer's browser: its page, the CSP violations it saw, the Stripe stand-ins."""

    page: Page
    csp: list[str]
    hosted: HostedCheckout
    receipts: list[str]


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def shopper(request: pytest.FixtureRequest, browser: Any, portal: LivePortal, fake: FakeStripe
            ) -> Iterator[Shopper]:
    context = browser.new_context(viewport=request.param)
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    hosted = install_hosted_checkout(context, fake, portal_base=portal.base)
    receipts = install_receipts(context)
    page = context.new_page()
    yield Shopper(page, csp_watch(page), hosted, receipts)
    context.close()


# ---------------------------------------------------------------- steps


def send_request(page: Page, portal: LivePortal, organisation: str) -> str:
    """The buyer sends the request form in the browser; returns its reference (RR-...)."""
    page.goto(portal.base + ARTICLE)
    page.get_by_label("Your name").fill("Jane Reader")
    fill_request_form(page, organisation)
    page.get_by_text(re.compile(r"Your request RR-\d{4}-\d{5} has been received")).wait_for()
    match = re.search(r"RR-\d{4}-\d{5}", page.content())
    assert match
    return match.group(0)


def quote(portal: LivePortal, reference: str, amount: int = 25000, currency: str = "GBP") -> None:
    """The licensing desk quotes the request (in-process, as tests/payments_support.py does)."""
    app = portal.app
    with app.test_request_context():
        session = app.extensions["portal.db"].sessionmaker()
        row = session.scalar(select(RepublishRequest).where(RepublishRequest.reference == reference))
        assert row is not None
        services.quote(session, row, services.QuoteInput(
            fee=Money(amount, currency), valid_until=utcnow() + timedelta(days=10)), actor="staff:1",
            currencies=app.config["CURRENCIES"])
        session.commit()
        session.close()


def accepted(shopper: Shopper, portal: LivePortal, organisation: str) -> tuple[str, str]:
    """A quoted request the buyer accepted in this browser, now on Stripe's page with the
    checkout open and unpaid: its status page's URL and the Checkout Session's id. (The way
    back from Stripe finds the status page through this browser's session, so the accepting
    has to happen here.)"""
    page = shopper.page
    quote(portal, send_request(page, portal, organisation))
    status_url = page.url
    page.reload()
    page.get_by_role("button", name="Accept and pay").click()
    arrive(shopper, HOSTED_PAGE, "Stripe's hosted checkout page")
    (session_id,) = portal.fake.sessions
    assert page.url == portal.fake.sessions[session_id]["url"]
    return status_url, session_id


def arrive(shopper: Shopper, where: re.Pattern[str], what: str) -> None:
    """Wait until the browser is at ``where``, or fail saying where it is and why. A CSP
    violation stops the navigation for good, so after one the wait is cut short."""
    page = shopper.page
    deadline = time.monotonic() + WAIT_MS / 1000
    blocked_since: float | None = None
    while True:
        try:
            page.wait_for_url(where, timeout=500)
            return
        except PlaywrightTimeoutError:
            now = time.monotonic()
            if shopper.csp and blocked_since is None:
                blocked_since = now
            if now >= deadline or (blocked_since is not None and now - blocked_since > 2):
                break
    pytest.fail(f"the browser did not arrive at {what}: it stayed at {page.url}\n"
                f"CSP violations: {shopper.csp or 'none'}\n"
                f"hosted stand-in served: {shopper.hosted.served}", pytrace=False)


def no_csp_violation(shopper: Shopper, step: str) -> None:
    assert shopper.csp == [], f"Content-Security-Policy violations {step}: {shopper.csp}"


def label(page: Page) -> str:
    size = page.viewport_size
    return "phone" if size is not None and size["width"] < 600 else "desktop"


# ---------------------------------------------------------------- tests


def test_accept_and_pay_on_stripes_page(shopper: Shopper, portal: LivePortal, fake: FakeStripe) -> None:
    page, name = shopper.page, label(shopper.page)
    reference = send_request(page, portal, f"Harbour Weekly ({name})")
    quote(portal, reference)
    page.reload()
    page.get_by_role("heading", name="Your quote").wait_for()

    page.get_by_role("button", name="Accept and pay").click()
    arrive(shopper, HOSTED_PAGE, "Stripe's hosted checkout page")
    no_csp_violation(shopper, "on the way to Stripe")
    (session_id,) = fake.sessions
    assert page.url == f"https://checkout.stripe.com/c/pay/{session_id}"
    assert page.title() == "Stripe Checkout (test stand-in)"
    expect(page.get_by_text("Amount: 250.00 GBP")).to_be_visible()
    shoot(page, f"{name}-30-stripe-checkout")

    page.get_by_role("button", name="Pay", exact=True).click()
    arrive(shopper, re.compile(re.escape(portal.base) + r"/requests/[A-Za-z0-9_-]+$"),
           "the portal's request page")
    page.get_by_role("heading", name="Your licence").wait_for()
    expect(page.get_by_text(re.compile(r"Your payment is confirmed and your licence "
                                       r"LIC-\d{4}-\d{6} is issued\."))).to_be_visible()
    assert LICENCE.search(page.content())
    assert shopper.hosted.webhooks and shopper.hosted.webhooks[0][0] == 200, shopper.hosted.webhooks
    assert shopper.hosted.refused == []
    no_csp_violation(shopper, "on the way back from Stripe")
    shoot(page, f"{name}-31-stripe-paid-licensed")


def test_continue_to_payment_after_going_back(shopper: Shopper, portal: LivePortal, fake: FakeStripe) -> None:
    page, name = shopper.page, label(shopper.page)
    status_url, session_id = accepted(shopper, portal, f"Fjord Review ({name})")
    # On Stripe's page the buyer thinks again and goes back (the session's cancel_url).
    page.get_by_role("link", name="Back").click()
    arrive(shopper, re.compile(re.escape(status_url) + "$"), "the request page (cancel_url)")
    continue_button = page.get_by_role("button", name="Continue to payment")
    continue_button.wait_for()
    shoot(page, f"{name}-32-continue-to-payment")

    continue_button.click()
    arrive(shopper, HOSTED_PAGE, "Stripe's hosted checkout page")
    no_csp_violation(shopper, "on the way back to Stripe")
    assert page.url == f"https://checkout.stripe.com/c/pay/{session_id}"  # the same open checkout
    assert len(fake.sessions) == 1


def test_success_address_alone_releases_nothing(shopper: Shopper, portal: LivePortal, fake: FakeStripe
                                                ) -> None:
    page, name = shopper.page, label(shopper.page)
    status_url, session_id = accepted(shopper, portal, f"Tidewater Post ({name})")
    # Someone opens the success address without paying (guessed, shared, or pressed too soon).
    page.goto(fake.sessions[session_id]["success_url"])
    page.get_by_role("heading", name="Confirming your payment").wait_for()
    expect(page.get_by_text("We are confirming your payment of")).to_be_visible()
    assert not LICENCE.search(page.content())
    shoot(page, f"{name}-33-success-address-unpaid")

    page.goto(status_url)
    page.get_by_role("heading", name="Payment").wait_for()
    assert page.get_by_role("heading", name="Your licence").count() == 0
    assert page.get_by_role("heading", name="The text to publish").count() == 0
    assert not LICENCE.search(page.content())
    expect(page.get_by_role("button", name="Continue to payment")).to_be_visible()
    assert fake.sessions[session_id]["payment_status"] == "unpaid"
    no_csp_violation(shopper, "on the success and status pages")


def test_receipt_link_leads_to_stripe(shopper: Shopper, portal: LivePortal, fake: FakeStripe) -> None:
    page, name = shopper.page, label(shopper.page)
    status_url, session_id = accepted(shopper, portal, f"Skerry Times ({name})")
    page.get_by_role("button", name="Pay", exact=True).click()
    arrive(shopper, re.compile(re.escape(status_url) + "$"), "the portal's request page")
    page.get_by_role("heading", name="Your licence").wait_for()

    receipt = page.get_by_role("link", name="Payment receipt")
    assert RECEIPT.fullmatch(receipt.get_attribute("href") or ""), receipt.get_attribute("href")
    receipt.click()
    arrive(shopper, RECEIPT, "Stripe's receipt page")
    page.get_by_role("heading", name="Receipt (test stand-in)").wait_for()
    assert shopper.receipts == [page.url]
    no_csp_violation(shopper, "on the way to the receipt")
    shoot(page, f"{name}-34-stripe-receipt")
