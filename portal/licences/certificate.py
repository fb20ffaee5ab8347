"""The licence certificate (PDF): number, licensee, article, scope, term, fee, terms
version, and the public verification address with its QR code."""

import io

import segno

from portal.licences.models import Licence
from portal.licensing.usage import AUDIENCE_BANDS, MEDIA, PORTIONS, REGIONS, TERRITORIES, countries, languages
from portal.pdf import Document


def scope_lines(licence: Licence) -> list[tuple[str, str]]:
    """The licence's scope as (label, value) pairs people read."""
    territory = TERRITORIES.get(licence.territory, licence.territory)
    if licence.territory_country:
        territory += f": {countries().get(licence.territory_country, licence.territory_country)}"
    if licence.territory_region:
        territory += f": {REGIONS.get(licence.territory_region, licence.territory_region)}"
    language = "Original language"
    if licence.language == "translation":
        code = licence.translation_language or ""
        language = f"Translation into {languages().get(code, code)}"
    portion = PORTIONS.get(licence.portion, licence.portion)
    if licence.excerpt_words:
        portion += f", up to {licence.excerpt_words:,} words"
    return [
        ("Medium", f"{MEDIA.get(licence.medium, licence.medium)}: {licence.publication_name}"),
        ("Audience", f"{AUDIENCE_BANDS.get(licence.audience_band, licence.audience_band)} "
                     "per month"),
        ("Territory", territory),
        ("Language", language),
        ("Portion", portion),
    ]


def term_text(licence: Licence) -> str:
    start = f"{licence.starts_on:%d %B %Y}"
    if licence.ends_on is None:
        return f"From {start}, with no end date"
    return f"From {start} to {licence.ends_on:%d %B %Y}"


def certificate_pdf(licence: Licence, *, publisher: str, verify_url: str) -> bytes:
    document = Document(f"Licence {licence.number}", publisher)
    line = document.line
    line(publisher, 12, "B", 7)
    line("Licence certificate", 20, "B", 10)
    line(f"Licence {licence.number}", 14, "B", 8)
    line(f"Check code {licence.check_code}", 11, "", 6)
    document.gap(4)
    line(f"{publisher} grants {licence.licensee} a non-exclusive licence to republish the "
         f"article below, within this scope and term, under the licence terms version "
         f"{licence.terms.version}.")
    document.gap(4)
    article = licence.article
    rows = [
        ("Licensee", licence.licensee),
        ("Article", f"“{article.title}”{', ' + article.byline if article.byline else ''}"),
        ("Original", article.canonical_url),
        *scope_lines(licence),
        ("Term", term_text(licence)),
        ("Fee", str(licence.fee) if licence.fee_minor else "Free of charge"),
        ("Terms version", licence.terms.version),
        ("Issued", f"{licence.issued_at:%d %B %Y}"),
    ]
    for label, value in rows:
        line(label, 9, "B", 5)
        line(value, 10, "", 5.5)
        document.gap(1.5)
    document.gap(4)
    line(f"Check this licence at any time (check code {licence.check_code}):", 10, "B")
    line(verify_url)
    qr = io.BytesIO()
    segno.make(verify_url, error="m").save(qr, kind="png", scale=6, border=2)
    qr.seek(0)
    document.pdf.image(qr, w=40, h=40)
    return document.output()
