"""Builders for test data: articles straight into the database, valid form answers."""

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.articles.models import Article
from portal.articles.urls import normalise_url
from portal.db import utcnow


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
