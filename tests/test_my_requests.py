""""My requests" without a password: a link mailed to the address typed in lists its requests
and licences and opens each one's page; the next form starts from the last request. Quotes
past their validity offer no "Accept and pay", even before the expiry job ran."""

import re
import time
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.licensing.models import Quote, RepublishRequest
from portal.notifications.models import OutboxEmail
from tests.factories import make_article, make_request
from tests.payments_support import Buyer, quoted_request
from tests.test_licences import licensed

ASK = "/my-requests"
JANE = "jane@gazette.example"


def csrf(client: FlaskClient, url: str = ASK) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get(url).get_data(as_text=True))
    assert match
    return match.group(1)


def ask(client: FlaskClient, email: str):  # type: ignore[no-untyped-def]
    return client.post(ASK, data={"email": email, "csrf_token": csrf(client)})


def links_sent(db: Session, to: str = JANE) -> list[str]:
    db.expire_all()
    bodies = db.scalars(select(OutboxEmail.text_body).where(
        OutboxEmail.template == "my_requests_link", OutboxEmail.to_address == to)).all()
    db.rollback()
    return [re.search(r"http://localhost(/my-requests/\S+)", body).group(1)  # type: ignore[union-attr]
            for body in bodies]


def mails(db: Session) -> int:
    db.expire_all()
    count = db.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.template == "my_requests_link")) or 0
    db.rollback()
    return count


def test_the_mailed_link_lists_every_request_and_licence_of_the_address(
        app: Flask, client: FlaskClient, db: Session) -> None:
    article = make_article(db)
    _buyer, licence = licensed(app, db, article)
    open_one = make_request(app, db, article, publication_name="Gazette Weekly")
    other = make_request(app, db, article, requester_email="sam@herald.example")
    answer = ask(client, "Jane@Gazette.example")
    assert answer.status_code == 200
    assert "we have sent it a link" in answer.get_data(as_text=True)
    [url] = links_sent(db)

    page = client.get(url)
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    body = page.get_data(as_text=True)
    assert licence.number in body and open_one.reference in body
    assert "Gazette Weekly" in body
    assert other.reference not in body

    # each request opens through a status link minted now
    opened = client.get(f"{url}/{open_one.reference}")
    assert opened.status_code == 303
    status = client.get(opened.headers["Location"])
    assert status.status_code == 200 and open_one.reference in status.get_data(as_text=True)
    # another address's request does not open through this link
    assert client.get(f"{url}/{other.reference}").status_code == 404


def test_the_answer_is_the_same_for_an_address_without_requests(
        client: FlaskClient, db: Session) -> None:
    make_article(db)
    answer = ask(client, "nobody@example.org")
    assert answer.status_code == 200
    assert "we have sent it a link" in answer.get_data(as_text=True)
    assert mails(db) == 0


@pytest.mark.parametrize(("email", "message"), [
    ("", "Please give the e-mail address you made the request with."),
    ("not an address", "Please give an e-mail address like name@example.org."),
    ("a" * 320 + "@example.org", "Please keep this under 320 characters."),
])
def test_a_bad_address_is_refused_clearly_and_nothing_is_sent(
        app: Flask, client: FlaskClient, db: Session, email: str, message: str) -> None:
    make_request(app, db)
    answer = ask(client, email)
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    assert mails(db) == 0


@pytest.mark.parametrize("app_overrides", [{"MY_REQUESTS_EMAIL_LIMIT": "2 per day"}])
def test_one_address_gets_only_so_many_links_without_being_told(
        app: Flask, client: FlaskClient, db: Session) -> None:
    make_request(app, db)
    answers = [ask(client, JANE) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len(links_sent(db)) == 2


def test_an_expired_or_forged_link_opens_nothing(
        app: Flask, client: FlaskClient, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    make_request(app, db)
    ask(client, JANE)
    [url] = links_sent(db)
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    for bad in (forged, "/my-requests/not-a-token", "/my-requests/" + "x" * 600):
        answer = client.get(bad)
        assert answer.status_code == 410
        assert "This link has expired or is not complete" in answer.get_data(as_text=True)
        assert client.get(f"{bad}/RR-2026-00001").status_code == 404
    assert client.get(url).status_code == 200

    class DayOld(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 24 * 3600 - 1

    stale = URLSafeTimedSerializer(app.secret_key, salt="my-requests", signer=DayOld).dumps(JANE)
    assert client.get(f"/my-requests/{stale}").status_code == 410


def test_the_next_form_starts_from_the_last_request(
        app: Flask, client: FlaskClient, db: Session) -> None:
    article = make_article(db)
    form_url = f"/articles/{article.slug}/republish"
    assert 'value="Jane Reader"' not in client.get(form_url).get_data(as_text=True)
    make_request(app, db, article, organisation="Gazette of the Fjords", vat_id="NO123")
    ask(client, JANE)
    [url] = links_sent(db)
    client.get(url)
    form = client.get(form_url).get_data(as_text=True)
    for value in ("Jane Reader", JANE, "Gazette of the Fjords", "NO123",
                  "Coastal Gazette Online", "https://www.gazette.example"):
        assert f'value="{value}"' in form
    # another browser starts empty
    assert 'value="Gazette of the Fjords"' not in app.test_client().get(form_url).get_data(
        as_text=True)


def test_a_quote_past_its_validity_offers_no_accept_even_before_the_expiry_job(
        app: Flask, db: Session) -> None:
    request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    assert "Accept and pay" in buyer.page().get_data(as_text=True)
    db.execute(update(Quote).where(Quote.request_id == request_id)
               .values(valid_until=utcnow() - timedelta(minutes=1)))
    db.commit()
    page = buyer.page().get_data(as_text=True)
    assert "Accept and pay" not in page and "Decline the quote" not in page
    assert "expired on" in page
    state = db.scalar(select(RepublishRequest.state).where(RepublishRequest.id == request_id))
    assert state.value == "quoted"  # the job has not run; the page knows anyway
