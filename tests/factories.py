"""Builders for test data: articles straight into the database, valid form answers."""

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.articles.models import Article
from portal.articles.urls import normalise_url
from portal.db import utcnow
from portal.licensing.models import RepublishRequest


def make_article(db: Session, slug: str = "harbour-wind", **fields: Any) -> Article:
    url = fields.pop("canonical_url", f"https://www.northernledger.example/2026/{slug}")
    body = fields.pop("body_html", "<p>Residents voted to buy a stake in the wind farm.</p>")
    article = Article(
        slug=slug,
        guid=fields.pop("guid", f"guid-{slug}"),
        canonical_url=url,
        url_key=normalise_url(url),
        title=fields.pop("title", "Harbour town votes to own its wind farm"),
        byline=fields.pop("byline", "Maren Holt"),
        summary=fields.pop("summary", "A community stake in offshore wind."),
        body_html=body,
        body_hash=hashlib.sha256(body.encode()).hexdigest(),
        published_at=fields.pop("published_at", datetime(2026, 11, 18, 7, 30, tzinfo=UTC)),
        **fields,
    )
    db.add(article)
    db.commit()
    return article


def form_answers(**changes: Any) -> dict[str, Any]:
    """A complete, valid set of answers for the request form (CSRF is added by the test)."""
    answers: dict[str, Any] = {
        "requester_name": "Jane Reader",
        "requester_email": "jane@gazette.example",
        "organisation": "The Coastal Gazette",
        "organisation_type": "commercial_media",
        "country": "NO",
        "vat_id": "",
        "medium": "website",
        "publication_name": "Coastal Gazette Online",
        "publication_url": "https://www.gazette.example",
        "audience_band": "10k_100k",
        "territory": "country",
        "territory_country": "NO",
        "territory_region": "",
        "language": "translation",
        "translation_language": "nb",
        "portion": "excerpt",
        "excerpt_words": "400",
        "term": "one_year",
        "start_date": utcnow().date().isoformat(),
        "intended_edits": "Shortened for length; a new headline.",
        "message": "We cover the same coast and our readers would value this piece.",
        "website": "",
    }
    answers.update(changes)
    return answers


def make_request(app: Any, db: Session, article: Article | None = None,
                 **changes: Any) -> RepublishRequest:
    """A submitted request, stored through the real service (with its audit event and mail)."""
    from portal.licensing import services
    from portal.licensing.forms import RepublishForm

    article = article or db.scalar(select(Article).order_by(Article.id)) or make_article(db)
    answers = form_answers(**changes)
    with app.test_request_context(method="POST", data=answers):
        form = RepublishForm(meta={"csrf": False})
        assert form.validate(), form.errors
        session = app.extensions["portal.db"].sessionmaker()
        request, _token = services.submit_request(session, session.merge(article),
                                                  form.usage_details(),
                                                  currencies=app.config["CURRENCIES"])
        session.commit()
        request_id = request.id
        session.close()
    found = db.get(RepublishRequest, request_id)
    assert found is not None
    return found
