"""The licence's holder gets the licensed copy and the certificate while the licence is
active, and nobody else; anyone can verify a licence, without private data."""

import io
import json
import re

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.articles.models import Article, Asset
from portal.db import utcnow
from portal.licences.models import Licence, LicenceStatus, LicenceTerms
from portal.licences.services import publish_terms
from portal.licensing import services
from portal.licensing.models import RepublishRequest
from portal.workflows import decisions
from tests.factories import make_article, make_request
from tests.payments_support import Buyer

AGENCY_SRC = "https://cdn.northernledger.example/afp-turbines.jpg"
OWN_SRC = "https://cdn.northernledger.example/harbour.jpg"
BODY = (
    "<p>Residents voted to buy a stake in the wind farm.</p>"
    f'<figure><img src="{AGENCY_SRC}" alt="Turbines"><figcaption>Turbines at dawn. '
    "Photo: AFP</figcaption></figure>"
    "<p>The vote was 1,204 to 388.</p>"
    f'<figure><img src="{OWN_SRC}" alt="Harbour"><figcaption>The harbour. Photo: '
    "Maren Holt</figcaption></figure>"
)


def article_with_photos(db: Session) -> Article:
    article = make_article(db, body_html=BODY)
    db.add_all([
        Asset(article=article, position=0, kind="image", src=AGENCY_SRC, alt="Turbines",
              caption="Turbines at dawn.", credit="AFP", is_distributable=False,
              restriction="credited to AFP"),
        Asset(article=article, position=1, kind="image", src=OWN_SRC, alt="Harbour",
              caption="The harbour.", credit="Maren Holt", is_distributable=True),
    ])
    db.commit()
    return article


def licensed(app: Flask, db: Session, article: Article | None = None,
             **request_changes: object) -> tuple[Buyer, Licence]:
    """A request approved free of charge (its licence issued), and its holder's browser."""
    request = make_request(app, db, article, **request_changes)
    with app.test_request_context():
        session = app.extensions["portal.db"].sessionmaker()
        row = session.get(RepublishRequest, request.id)
        decisions.approve_free(session, row.id, actor="staff:1", note=None,
                               expected_version=None)
        token = services.new_status_token(session, row.id)
        session.commit()
        session.close()
    db.expire_all()
    licence = db.scalars(select(Licence).where(Licence.request_id == request.id)).one()
    return Buyer(app, f"/requests/{token}"), licence


def test_the_licensed_copy_leaves_out_agency_photos_and_carries_the_attribution(
        app: Flask, db: Session) -> None:
    buyer, licence = licensed(app, db, article_with_photos(db), portion="full",
                              language="original", translation_language="")
    page = buyer.page().get_data(as_text=True)
    assert "The text to publish" in page and "1 image removed" in page
    assert "credit: AFP; credited to AFP" in page
    html = buyer.client.get(f"{buyer.url}/licence/{licence.number}.html")
    assert html.status_code == 200
    assert html.headers["Content-Disposition"] == f'attachment; filename="{licence.number}.html"'
    body = html.get_data(as_text=True)
    assert AGENCY_SRC not in body and "Turbines at dawn" not in body
    assert OWN_SRC in body and "The vote was 1,204 to 388." in body
    assert "<h1>Harbour town votes to own its wind farm</h1>" in body
    canonical = "https://www.northernledger.example/2026/harbour-wind"
    verify = f"http://localhost/licences/{licence.number}?code={licence.check_code}"
    assert (f'Originally published by The Northern Ledger on 18 November 2026: '
            f'<a href="{canonical}">{canonical}</a>. Republished under licence '
            f'<a href="{verify}">{licence.number}</a> (check code {licence.check_code}).'
            ) in body
    assert re.search(rf'<img src="http://localhost/t/{licence.tracking_key}\.gif" width="1" '
                     r'height="1" alt=""', body)
    text = buyer.client.get(f"{buyer.url}/licence/{licence.number}.txt").get_data(as_text=True)
    assert text.startswith("Harbour town votes to own its wind farm\n\nMaren Holt\n\n18 November")
    assert "Residents voted to buy a stake in the wind farm.\n\nThe vote was 1,204 to 388." in text
    assert "AFP" not in text and "Turbines" not in text
    assert text.rstrip().endswith(f"{canonical}. Republished under licence {licence.number} "
                                  f"(check code {licence.check_code}: {verify}).")


def test_an_article_without_agency_photos_loses_nothing(app: Flask, db: Session) -> None:
    buyer, licence = licensed(app, db, portion="full", language="original",
                              translation_language="")
    page = buyer.page().get_data(as_text=True)
    assert "removed" not in page
    body = buyer.client.get(f"{buyer.url}/licence/{licence.number}.html").get_data(as_text=True)
    assert "Residents voted to buy a stake in the wind farm." in body


def test_excerpt_and_translation_licences_say_what_they_allow(app: Flask, db: Session) -> None:
    buyer, _licence = licensed(app, db)  # the factory's answers: a 400-word excerpt, into nb
    page = buyer.page().get_data(as_text=True)
    assert "an excerpt of up to <strong>400 words</strong>" in page
    assert "a translation into <strong>Norwegian Bokmål</strong>" in page
    assert "keep the attribution block" in page


def test_the_certificate_names_the_licence_and_its_verification_address(
        app: Flask, db: Session) -> None:
    buyer, licence = licensed(app, db)
    response = buyer.client.get(f"{buyer.url}/licence/{licence.number}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = " ".join(page.extract_text() for page in reader.pages)
    for expected in (licence.number, "The Coastal Gazette", "Harbour town votes to own its wind farm",
                     "Website: Coastal Gazette Online", "Norway", "Translation into Norwegian",
                     "up to 400 words", "Free of charge", "2026-1",
                     f"Check code {licence.check_code}",
                     f"http://localhost/licences/{licence.number}?code={licence.check_code}"):
        assert expected in text, expected
    assert reader.pages[0].images, "the QR code is on the page"


@pytest.mark.parametrize("status", ["suspended", "revoked", "expired"])
def test_nothing_is_served_unless_the_licence_is_active(
        app: Flask, db: Session, status: str) -> None:
    buyer, licence = licensed(app, db)
    if status == "expired":
        db.execute(update(Licence).values(ends_on=utcnow().date().replace(year=2020)))
    else:
        db.execute(update(Licence).values(status=LicenceStatus(status)))
    db.commit()
    for kind in ("html", "txt", "pdf"):
        response = buyer.client.get(f"{buyer.url}/licence/{licence.number}.{kind}")
        assert response.status_code == 403, kind
        assert status[:6] in response.get_data(as_text=True) or "ended" in response.get_data(
            as_text=True)
    page = buyer.page().get_data(as_text=True)
    assert "The text to publish" not in page and licence.tracking_key not in page


def test_nothing_is_served_before_the_licence_or_with_another_requests_token(
        app: Flask, db: Session) -> None:
    _buyer, licence = licensed(app, db)
    request = make_request(app, db)
    with app.test_request_context():
        session = app.extensions["portal.db"].sessionmaker()
        other_token = services.new_status_token(session, request.id)
        session.commit()
        session.close()
    for kind in ("html", "txt", "pdf"):
        assert Buyer(app, f"/requests/{other_token}").client.get(
            f"/requests/{other_token}/licence/{licence.number}.{kind}").status_code == 404
        assert app.test_client().get(
            f"/requests/{'x' * 43}/licence/{licence.number}.{kind}").status_code == 404


@pytest.mark.parametrize(("status", "shown"), [
    ("active", "Valid"), ("suspended", "Suspended"), ("revoked", "Revoked"), ("ended", "Expired"),
])
def test_anyone_can_verify_a_licence_without_seeing_private_data(
        app: Flask, db: Session, status: str, shown: str) -> None:
    _buyer, licence = licensed(app, db)
    if status == "ended":
        db.execute(update(Licence).values(ends_on=utcnow().date().replace(year=2020)))
    else:
        db.execute(update(Licence).values(status=LicenceStatus(status)))
    db.commit()
    client = app.test_client()
    code = licence.check_code
    page = client.get(f"/licences/{licence.number}?code={code}").get_data(as_text=True)
    assert f"This licence is <strong>{shown}</strong>" in page
    assert "The Coastal Gazette" in page and "Harbour town votes" in page
    record = client.get(f"/licences/{licence.number}.json?code={code}").json
    assert record["status"] == shown.lower().replace("active", "valid")
    assert record["licensee"] == "The Coastal Gazette"
    assert record["scope"]["territory"] == "One country: Norway"
    dumped = json.dumps(record) + page
    for private in ("Jane Reader", "jane@gazette.example", licence.tracking_key, "RR-"):
        assert private not in dumped, private


@pytest.mark.parametrize("number", ["LIC-2026-999999", "nope", "LIC-2026-1' OR 1=1", "x" * 300])
def test_an_unknown_licence_number_is_a_404(client, number: str) -> None:
    assert client.get(f"/licences/{number}").status_code == 404
    assert client.get(f"/licences/{number}.json").status_code == 404


@pytest.mark.parametrize("code", [None, "", "0000-0000", "K7QF-2M9"])
def test_a_licence_number_without_its_check_code_reveals_nothing(
        app: Flask, db: Session, code: str | None) -> None:
    """Numbers are sequential: a guesser gets the same answer for a real licence as for a
    number never issued, a page saying how to verify, and a 404 with no details in JSON."""
    _buyer, licence = licensed(app, db)
    client = app.test_client()
    query = "" if code is None else f"?code={code}"
    unknown = "LIC-2026-999999"
    page = client.get(f"/licences/{licence.number}{query}")
    unknown_page = client.get(f"/licences/{unknown}{query}")
    assert page.status_code == unknown_page.status_code == 404
    text = page.get_data(as_text=True)
    assert text.replace(licence.number, "N") == unknown_page.get_data(as_text=True).replace(
        unknown, "N")
    assert "check code" in text and 'name="code"' in text
    record = client.get(f"/licences/{licence.number}.json{query}")
    assert record.status_code == 404 and record.json == {"error": "not found"}
    for private in ("The Coastal Gazette", "Harbour town", "Norway", licence.check_code):
        assert private not in text + record.get_data(as_text=True), private


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "{bare}", " {code} "])
def test_the_check_code_may_be_typed_loosely(app: Flask, db: Session, typed: str) -> None:
    _buyer, licence = licensed(app, db)
    code = licence.check_code
    given = typed.format(code=code, lower=code.lower(), bare=code.replace("-", ""))
    page = app.test_client().get(f"/licences/{licence.number}", query_string={"code": given})
    assert page.status_code == 200 and "The Coastal Gazette" in page.get_data(as_text=True)


def test_every_licence_gets_its_own_check_code(app: Flask, db: Session) -> None:
    _one, first = licensed(app, db)
    _two, second = licensed(app, db)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", first.check_code)
    assert first.check_code != second.check_code


def test_terms_are_versioned_and_never_edited_in_place(app: Flask, db: Session) -> None:
    _buyer, first = licensed(app, db)
    assert first.terms.version == "2026-1"
    with pytest.raises(ValueError, match="never edited in place"):
        publish_terms(db, "2026-1", "Changed text")
    publish_terms(db, "2027-1", "New terms text.")
    db.commit()
    _other, second = licensed(app, db)
    db.expire_all()
    assert second.terms.version == "2027-1" and first.terms.version == "2026-1"
    assert len(db.scalars(select(LicenceTerms)).all()) == 2
