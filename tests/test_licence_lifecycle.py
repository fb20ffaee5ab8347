"""Licences over time: the term ends (a reminder first), renewal, corrections reach the
licensees, and a withdrawn article takes its licences down."""

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.articles.models import Article
from portal.db import utcnow
from portal.licences.models import Licence, LicenceStatus
from portal.notifications.models import OutboxEmail
from portal.staff.models import StaffRole
from tests.staff_fixtures import StaffLogin, page_csrf_token
from tests.test_importer import FEEDS, write_variant
from tests.test_licences import licensed

BUYER = "jane@gazette.example"


def mails(db: Session, template: str = "requester_update") -> list[OutboxEmail]:
    db.expire_all()
    return list(db.scalars(select(OutboxEmail).where(OutboxEmail.template == template,
                                                     OutboxEmail.to_address == BUYER)))


def test_licences_expire_after_a_reminder_and_the_copy_stops(app: Flask, db: Session) -> None:
    buyer, licence = licensed(app, db, term="one_year")
    today = utcnow().date()
    runner = app.test_cli_runner()
    db.execute(update(Licence).values(ends_on=today + timedelta(days=10)))
    db.commit()
    first = runner.invoke(args=["licences", "expire"])
    assert first.exit_code == 0 and "reminded 1" in first.output
    assert "reminded 0" in runner.invoke(args=["licences", "expire"]).output  # once only
    assert any("ends on" in m.subject for m in mails(db))
    db.execute(update(Licence).values(ends_on=today - timedelta(days=1)))
    db.commit()
    ended = runner.invoke(args=["licences", "expire"])
    assert "Expired 1 licence" in ended.output
    db.expire_all()
    assert db.get(Licence, licence.id).status == LicenceStatus.EXPIRED
    assert any("has ended" in m.subject for m in mails(db))
    assert buyer.client.get(f"{buyer.url}/licence/{licence.number}.html").status_code == 403
    assert "Renew this licence" in buyer.page().get_data(as_text=True)


def test_perpetual_licences_never_expire(app: Flask, db: Session) -> None:
    _buyer, licence = licensed(app, db, term="perpetual")
    assert licence.ends_on is None
    assert "Expired 0" in app.test_cli_runner().invoke(args=["licences", "expire"]).output


def test_renewal_is_a_new_request_filled_in_from_the_old_one(app: Flask, db: Session) -> None:
    buyer, licence = licensed(app, db, term="one_month")
    page = buyer.client.get(f"{buyer.url}/renew")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and f"Renew licence {licence.number}" in text
    assert 'value="The Coastal Gazette"' in text and 'value="jane@gazette.example"' in text
    start = (licence.ends_on + timedelta(days=1)).isoformat()
    assert f'value="{start}"' in text
    assert 'action="/articles/harbour-wind/republish"' in text


def test_a_correction_reaches_holders_of_active_licences(
        app: Flask, db: Session, tmp_path) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["articles", "import", str(FEEDS / "ledger.rss")]).exit_code == 0
    article = db.scalars(select(Article).where(Article.title.like("Ferry strike%"))).one()
    _buyer, licence = licensed(app, db, article, portion="full", language="original",
                               translation_language="")
    _other, revoked = licensed(app, db, article, portion="full", language="original",
                               translation_language="")
    db.execute(update(Licence).where(Licence.id == revoked.id)
               .values(status=LicenceStatus.REVOKED))
    db.commit()
    corrected = write_variant(tmp_path, "ledger.rss", ("Talks resume on Thursday.", "Talks end."))
    result = runner.invoke(args=["articles", "import", str(corrected)])
    assert result.exit_code == 0, result.output
    assert "Told 1 licensee of corrections." in result.output
    (mail,) = mails(db, "licence_correction")
    assert licence.number in mail.text_body and "Talks end." in mail.text_body
    assert "Talks resume on Thursday." not in mail.text_body
    assert "Ferry strike" in mail.subject


def test_withdrawing_an_article_revokes_its_licences_with_notice(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin) -> None:
    buyer, licence = licensed(app, db)
    staff_login(StaffRole.ADMIN)
    page_url = f"/staff/articles/{licence.article_id}"
    response = client.post(f"{page_url}/withdraw", data={
        "csrf_token": page_csrf_token(client, page_url), "reason": "A court order"})
    assert response.status_code == 303, response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Licence, licence.id).status == LicenceStatus.REVOKED
    assert db.get(Article, licence.article_id).is_licensable is False
    assert any("revoked" in m.subject for m in mails(db))
    assert buyer.client.get(f"{buyer.url}/licence/{licence.number}.txt").status_code == 403
    verify = app.test_client().get(
        f"/licences/{licence.number}?code={licence.check_code}").get_data(as_text=True)
    assert "This licence is <strong>Revoked</strong>" in verify
    empty = client.post(f"{page_url}/withdraw", data={
        "csrf_token": page_csrf_token(client, page_url), "reason": ""})
    assert empty.status_code == 422
