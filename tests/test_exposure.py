"""Issue 11: what the public sees of articles before their time, after a takedown and
before a licence; what a buyer and staff see of a revoked licence."""

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.notifications.models import OutboxEmail
from portal.staff.models import StaffRole
from portal.workflows import takedown
from tests.factories import make_article
from tests.payments_support import Buyer, payments, quoted_request
from tests.staff_fixtures import StaffLogin, page_csrf_token
from tests.test_licences import licensed

BODY = ("<p>Residents voted to buy a stake in the wind farm.</p>"
        "<p>The vote was 1,204 to 388, after a night of debate.</p>"
        "<p>The council signs the contract on Friday.</p>")
LEGAL = "Injunction HC-2026-0042: defamation claim by Mr X"


def withdraw(app: Flask, db: Session, article_id: int, reason: str = LEGAL) -> None:
    with app.test_request_context():
        session = app.extensions["portal.db"].sessionmaker()
        takedown.withdraw_article(session, article_id, reason=reason, actor="staff:1")
        session.commit()
        session.close()
    db.expire_all()


def test_an_embargoed_article_stays_hidden_until_its_time(
        client: FlaskClient, db: Session) -> None:
    make_article(db)
    later = make_article(db, slug="budget-leak", guid="budget-leak", title="Budget day secrets",
                         canonical_url="https://www.northernledger.example/2026/budget",
                         published_at=utcnow() + timedelta(hours=6))
    listing = client.get("/").get_data(as_text=True)
    assert "Harbour town" in listing and "Budget day secrets" not in listing
    assert "Budget day" not in client.get("/", query_string={"q": "Budget"}).get_data(
        as_text=True)
    assert client.get("/articles/budget-leak").status_code == 404
    assert client.get("/articles/budget-leak/republish").status_code == 404
    by_url = client.get("/republish", query_string={"url": later.canonical_url})
    assert by_url.status_code == 404 and "Budget day" not in by_url.get_data(as_text=True)
    # Once its time has come, it is there.
    later.published_at = utcnow() - timedelta(minutes=1)
    db.commit()
    assert "Budget day secrets" in client.get("/").get_data(as_text=True)
    assert client.get("/articles/budget-leak").status_code == 200
    assert client.get("/republish", query_string={"url": later.canonical_url}
                      ).status_code == 303


def test_a_withdrawn_article_is_no_longer_available_and_its_reason_stays_internal(
        app: Flask, client: FlaskClient, db: Session) -> None:
    article = make_article(db, body_html=BODY)
    withdraw(app, db, article.id)
    for path in ("/articles/harbour-wind", "/articles/harbour-wind/republish"):
        page = client.get(path)
        text = page.get_data(as_text=True)
        assert page.status_code == 410, path
        assert "no longer available" in text and "Harbour town" not in text
        assert "Injunction" not in text and "defamation" not in text
    assert "Harbour town" not in client.get("/").get_data(as_text=True)
    redirected = client.get("/republish", query_string={"url": article.canonical_url},
                            follow_redirects=True)
    assert redirected.status_code == 410
    assert "Injunction" not in redirected.get_data(as_text=True)
    db.refresh(article)
    assert article.withdrawal_reason == LEGAL and "Injunction" not in (article.rights_reason
                                                                      or "")


def test_the_licensee_of_a_withdrawn_article_is_not_told_the_legal_reason(
        app: Flask, db: Session) -> None:
    buyer, licence = licensed(app, db)
    withdraw(app, db, licence.article_id)
    page = buyer.page().get_data(as_text=True)
    mail = " ".join(m.subject + m.text_body for m in db.scalars(select(OutboxEmail)))
    assert "withdrew the article" in mail
    for told in (page, mail):
        assert "Injunction" not in told and "defamation" not in told


def test_the_article_page_is_a_preview_not_the_whole_text(
        client: FlaskClient, db: Session) -> None:
    make_article(db, body_html=BODY)
    page = client.get("/articles/harbour-wind").get_data(as_text=True)
    assert "Harbour town votes to own its wind farm" in page  # headline
    assert "A community stake in offshore wind." in page  # standfirst
    assert "Residents voted to buy a stake in the wind farm." in page  # first paragraph
    assert "The vote was 1,204" not in page and "signs the contract" not in page
    assert 'href="https://www.northernledger.example/2026/harbour-wind"' in page
    assert "Republish this article" in page


def test_a_revoked_licence_says_so_to_its_buyer_and_offers_no_renewal(
        app: Flask, db: Session) -> None:
    buyer, licence = licensed(app, db, term="one_year")
    assert "Renew this licence" in buyer.page().get_data(as_text=True)
    withdraw(app, db, licence.article_id)
    page = buyer.page().get_data(as_text=True)
    assert "Licence revoked" in page and "was revoked: the publisher withdrew the article" in page
    assert "Status: <strong>Licensed</strong>" not in page
    assert "Renew this licence" not in page
    assert "verify-revoked" in page and "licence-card" not in page  # red, not green


def test_staff_are_prompted_to_refund_a_paid_licence_that_was_revoked(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin) -> None:
    request_id, url = quoted_request(app, db, payment_method="invoice")
    assert Buyer(app, url).accept().status_code == 303
    (payment,) = payments(db, request_id)
    staff_login(StaffRole.LICENSING)
    page_url = f"/staff/requests/{payment.request.reference}"
    paid = client.post(f"{page_url}/invoice-paid", data={
        "csrf_token": page_csrf_token(client, page_url), "payment_id": payment.id,
        "amount": "250.00", "reference": "BANK-REF-1"})
    assert paid.status_code == 303, paid.get_data(as_text=True)
    assert "Revoked, but paid for" not in client.get(page_url).get_data(as_text=True)
    withdraw(app, db, payment.request.article_id)
    page = client.get(page_url).get_data(as_text=True)
    assert "Revoked, but paid for" in page and "£250.00" in page


def test_staff_still_read_why_an_article_was_withdrawn(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin) -> None:
    article = make_article(db)
    withdraw(app, db, article.id)
    staff_login(StaffRole.ADMIN)
    page = client.get(f"/staff/articles/{article.id}").get_data(as_text=True)
    assert "Withdrawn" in page and LEGAL in page
