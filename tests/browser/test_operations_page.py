"""The operations page in a real browser, without JavaScript, at phone and desktop width: an
admin is warned that mail is failing, opens the page from the back office's menu, and sends
a message that was given up again; the next `outbox send` delivers it once."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from flask import Flask
from playwright.sync_api import expect
from werkzeug.serving import make_server

from portal.db import utcnow
from portal.demo import DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD
from portal.notifications.models import OutboxEmail, OutboxStatus
from tests.browser.conftest import fits_the_screen, shoot
from tests.conftest import make_app

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
DOWN = "message refused: 451 4.3.0 mail system temporarily unavailable"


@dataclass
class Live:
    app: Flask
    url: str
    mail_dir: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The demo portal on 127.0.0.1, its mail written to files."""
    tmp = tmp_path_factory.mktemp("operations")
    app = make_app(tmp, f"sqlite:///{tmp / 'live.sqlite3'}", BASE_URL="http://127.0.0.1:0")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["demo", "load"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Live(app, app.config["BASE_URL"], tmp / "mail")
    server.shutdown()
    thread.join(timeout=5)


def _outbox(app: Flask, to: str, subject: str, *, given_up: bool) -> OutboxEmail:
    """A message given up after two days of failures, or one failing for the last hour."""
    written = utcnow() - (timedelta(days=2, hours=1) if given_up else timedelta(hours=1))
    row = OutboxEmail(
        to_address=to, subject=subject, template="quote_ready",
        text_body="Your quote is ready.\n", html_body="<p>Your quote is ready.</p>",
        message_id=f"<{uuid4().hex}@portal.test>", created_at=written,
        status=OutboxStatus.FAILED if given_up else OutboxStatus.PENDING,
        attempts=55 if given_up else 9, last_error=DOWN,
        next_attempt_at=utcnow() + timedelta(minutes=40),
    )
    with app.extensions["portal.db"].sessionmaker() as db:
        db.add(row)
        db.commit()
    return row


@pytest.mark.parametrize(("viewport", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_an_admin_sends_a_given_up_message_again(browser, live: Live, viewport, label: str) -> None:
    subject = f"RR-2030-00042: your quote is ready ({label})"
    dead = _outbox(live.app, f"jane.{label}@gazette.example", subject, given_up=True)
    _outbox(live.app, f"sam.{label}@herald.example", f"RR-2030-00043: a question ({label})",
            given_up=False)

    context = browser.new_context(viewport=viewport, java_script_enabled=False)
    page = context.new_page()
    page.goto(live.url + "/staff/login")
    page.get_by_label("E-mail address").fill(DEMO_STAFF_EMAIL)
    page.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Every back-office page says that mail needs attention, and where to look.
    warning = page.get_by_role("alert").filter(has_text="E-mail from the portal needs attention.")
    expect(warning).to_be_visible()
    assert "failing and being retried (for 1 h)" in warning.inner_text()
    assert fits_the_screen(page)
    shoot(page, f"{label}-40-staff-mail-warning")

    page.get_by_role("navigation", name="Back office").get_by_role("link", name="Operations").click()
    expect(page.get_by_role("heading", name="Operations", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Failing, to be retried")).to_be_visible()
    expect(page.get_by_text(f"sam.{label}@herald.example")).to_be_visible()
    assert fits_the_screen(page)
    shoot(page, f"{label}-41-operations")

    row = page.locator("tr", has_text=subject)
    expect(row.get_by_text(DOWN)).to_be_visible()
    row.get_by_role("button", name="Send again").click()

    assert page.url == live.url + "/staff/operations"
    expect(page.get_by_text(f"The e-mail “{subject}” to jane.{label}@gazette.example is back "
                            "in the queue")).to_be_visible()
    assert page.locator("tr", has_text=subject).count() == 0
    assert fits_the_screen(page)
    shoot(page, f"{label}-42-operations-sent-again")
    context.close()

    result = live.app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert f"  sent     jane.{label}@gazette.example  {subject}" in result.output
    again = live.app.test_cli_runner().invoke(args=["outbox", "send"])
    assert subject not in again.output
    written = [p for p in live.mail_dir.glob("*.eml")
               if dead.message_id.strip("<>").split("@")[0] in p.name]
    assert len(written) == 1
