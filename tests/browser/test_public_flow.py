"""A visitor's path in a real browser, at phone and desktop width, with and without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import fill_request_form, fits_the_screen, shoot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _fits_width(page) -> bool:
    return fits_the_screen(page)


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_request_without_javascript(browser, live_url: str, viewport, label: str) -> None:
    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_url + "/")
    assert _fits_width(page)
    shoot(page, f"{label}-01-article-list")
    page.get_by_role("link", name="Libraries dropped late fees. Then the books came back").click()
    assert _fits_width(page)
    shoot(page, f"{label}-02-article")
    page.get_by_role("link", name="Republish this article").click()
    expect(page.get_by_role("heading", name="Request to republish")).to_be_visible()
    assert _fits_width(page)
    shoot(page, f"{label}-03-form")

    # Send it half-filled first: the errors show next to their fields, answers kept.
    page.get_by_label("Your name").fill("Jane Reader")
    page.get_by_label("Your e-mail address").fill("not-an-address")
    page.get_by_role("button", name="Send request").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    assert "valid e-mail address" in page.locator("#requester_email-error").inner_text()
    assert page.get_by_label("Your name").input_value() == "Jane Reader"
    assert _fits_width(page)
    shoot(page, f"{label}-04-form-errors")

    fill_request_form(page)

    page.wait_for_url(re.compile(r"/requests/[A-Za-z0-9_-]{43}$"))
    expect(page.get_by_text(re.compile(r"Your request RR-\d{4}-\d{5} has been received"))).to_be_visible()
    expect(page.get_by_text("Received, waiting for review")).to_be_visible()
    assert _fits_width(page)
    shoot(page, f"{label}-05-status")
    context.close()


def test_javascript_hides_questions_that_do_not_apply(browser, live_url: str) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(live_url + "/articles/libraries-dropped-late-fees-then-the-books-came-back/republish")
    country = page.get_by_label("Which country?")
    expect(country).to_be_hidden()
    page.get_by_label("One country").check()
    expect(country).to_be_visible()
    expect(page.get_by_label("Translated into")).to_be_hidden()
    page.get_by_label("Translation").check()
    expect(page.get_by_label("Translated into")).to_be_visible()
    context.close()


def test_not_licensable_article_in_the_browser(browser, live_url: str) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_url + "/")
    page.get_by_role("link", name="Interview: the composer who writes for ice").click()
    expect(page.get_by_text("This article is not available for republication.")).to_be_visible()
    assert page.get_by_role("link", name="Republish this article").count() == 0
    shoot(page, "phone-06-not-licensable")
    context.close()


def test_republish_link_from_the_publishers_site(browser, live_url: str) -> None:
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_url + "/republish?url=https://northernledger.example/2026/11/"
                         "night-train-to-the-capital-returns/?utm_source=footer")
    expect(page.get_by_role("heading", name="Request to republish")).to_be_visible()
    page.goto(live_url + "/republish?url=https://northernledger.example/nope")
    expect(page.get_by_role("heading", name="We could not find that article")).to_be_visible()
    shoot(page, "desktop-07-unknown-url")
    context.close()
