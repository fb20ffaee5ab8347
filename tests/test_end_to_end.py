"""The whole public path: form -> stored -> `outbox send` over SMTP -> the link in the e-mail
opens the status page."""

import re

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session

from tests.factories import form_answers, make_article
from tests.mailserver import SmtpServer
from tests.test_request_form import FORM_URL, csrf_token


@pytest.fixture
def app_overrides(smtp_server: SmtpServer) -> dict[str, object]:
    return {"MAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}?timeout=5",
            "BASE_URL": "https://licensing.northernledger.example"}


def test_submit_email_status_page(
    client: FlaskClient, runner: FlaskCliRunner, db: Session, smtp_server: SmtpServer
) -> None:
    make_article(db)
    data = {**form_answers(), "csrf_token": csrf_token(client)}
    assert client.post(FORM_URL, data=data).status_code == 303

    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 0, result.output
    assert "Sent 2, will retry 0, failed 0." in result.output

    received = {r.rcpt_tos[0]: r.message for r in smtp_server.mailbox.received}
    assert set(received) == {"jane@gazette.example", "licensing@northernledger.example"}
    to_requester = received["jane@gazette.example"]
    text = to_requester.get_body(("plain",)).get_content()
    html = to_requester.get_body(("html",)).get_content()
    link = re.search(r"https://licensing\.northernledger\.example(/requests/[\w-]+)", text)
    assert link, text
    assert link.group(0) in html
    reference = re.search(r"RR-\d{4}-\d{5}", to_requester["Subject"]).group(0)

    page = client.get(link.group(1))
    assert page.status_code == 200
    assert reference in page.get_data(as_text=True)
    # every e-mail carries its own working link, and none is stored in the clear
    from sqlalchemy import select

    from portal.notifications.models import OutboxEmail

    bodies = " ".join(m.text_body + m.html_body for m in db.scalars(select(OutboxEmail)))
    assert link.group(1) not in bodies
    # a second pass sends nothing more
    again = runner.invoke(args=["outbox", "send"])
    assert "Sent 0, will retry 0, failed 0." in again.output
    assert len(smtp_server.mailbox.received) == 2
