"""Issue 11's public pages in a real browser, at phone and desktop width, without JavaScript:
the article preview and the licence verification page that asks for the check code."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import fits_the_screen, shoot

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_article_preview_and_the_licence_lookup(
        browser, live_url: str, viewport, label: str) -> None:
    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_url + "/")
    page.get_by_role("link", name="Libraries dropped late fees. Then the books came back").click()
    expect(page.get_by_text("This is the opening of the article.")).to_be_visible()
    expect(page.get_by_role("link", name="Republish this article")).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, f"{label}-11-article-preview")

    page.goto(live_url + "/licences/LIC-2026-000001")
    expect(page.get_by_role("heading", name="Verify a licence")).to_be_visible()
    page.get_by_label("Check code for licence LIC-2026-000001").fill("K7QF-2M9X")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("No licence matches this number and check code.")).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, f"{label}-12-licence-lookup")
    context.close()


@pytest.mark.parametrize(("viewport", "label"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_a_revoked_licence_and_a_verified_one_in_the_browser(
        browser, app, db, viewport, label: str) -> None:
    import threading

    from werkzeug.serving import make_server

    from tests.test_exposure import withdraw
    from tests.test_licences import licensed

    buyer, licence = licensed(app, db, term="one_year")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        context = browser.new_context(viewport=viewport, java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{base}/licences/{licence.number}?code={licence.check_code}")
        expect(page.get_by_text("This licence is Valid")).to_be_visible()
        assert fits_the_screen(page)
        shoot(page, f"{label}-13-licence-verified")
        withdraw(app, db, licence.article_id)
        page.goto(base + buyer.url)
        expect(page.get_by_text("Licence revoked")).to_be_visible()
        assert page.get_by_role("link", name="Renew this licence").count() == 0
        assert fits_the_screen(page)
        shoot(page, f"{label}-14-licence-revoked")
        context.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
