""""My requests" in a real browser, without JavaScript, at phone and desktop width: a buyer
who sent a request asks for the list from another browser by the footer link, opens the
mailed link, opens the request from it, and finds the next form filled in."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.notifications.models import OutboxEmail
from tests.browser.conftest import demo_portal, fill_request_form, fits_the_screen, shoot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ARTICLE = "/articles/harbour-town-votes-to-own-its-wind-farm"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with demo_portal(tmp_path_factory.mktemp("my-requests")) as live:
        yield live


def mailed_link(app, to: str) -> str:  # type: ignore[no-untyped-def]
    with app.extensions["portal.db"].sessionmaker() as db:
        body = db.scalars(select(OutboxEmail.text_body).where(
            OutboxEmail.template == "my_requests_link", OutboxEmail.to_address == to)
            .order_by(OutboxEmail.id.desc())).first()
    assert body, f"no link was mailed to {to}"
    return re.search(r"https?://\S+/my-requests/\S+", body).group(0)  # type: ignore[union-attr]


@pytest.mark.parametrize(("viewport", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_a_buyer_comes_back_without_a_password(browser, portal, viewport, label: str) -> None:
    app, base = portal
    first = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = first.new_page()
    page.goto(base + ARTICLE + "/republish")
    page.get_by_label("Your name").fill("Jane Reader")
    fill_request_form(page, f"Gazette of the Fjords ({label})")
    page.wait_for_url(re.compile(r"/requests/[A-Za-z0-9_-]{43}$"))
    reference = re.search(r"RR-\d{4}-\d{5}", page.content()).group(0)  # type: ignore[union-attr]
    first.close()

    later = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = later.new_page()
    page.goto(base + "/")
    page.get_by_role("link", name="My requests").click()
    expect(page.get_by_role("heading", name="My requests")).to_be_visible()
    page.get_by_label("Your e-mail address").fill("jane@gazette.example")
    page.get_by_role("button", name="Send me the link").click()
    expect(page.get_by_text("we have sent it a link")).to_be_visible()
    assert fits_the_screen(page)

    page.goto(mailed_link(app, "jane@gazette.example"))
    mine = page.locator("li.my-request").filter(has_text=reference)
    expect(mine).to_have_count(1)
    assert fits_the_screen(page)
    shoot(page, f"{label}-50-my-requests")
    mine.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/requests/[A-Za-z0-9_-]{43}$"))
    expect(page.get_by_role("heading", name=reference)).to_be_visible()

    page.goto(base + ARTICLE + "/republish")
    expect(page.get_by_label("Your name")).to_have_value("Jane Reader")
    expect(page.get_by_label("Organisation", exact=True)).to_have_value(
        f"Gazette of the Fjords ({label})")
    later.close()
