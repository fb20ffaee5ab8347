"""The licensed copy: the article as the licensee may publish it.

Headline, byline, date, the body with distributable assets only (agency images removed,
and the licensee told which and why), and the attribution block with the canonical link and
the licence number; the HTML also carries the 1×1 tracking image unique to the licence.
Built from the article as it stands now, so a correction reaches the licensee's copy.
"""

import html
import re
from dataclasses import dataclass, field
from datetime import datetime

from bs4 import BeautifulSoup, Tag

from portal.licences.models import Licence
from portal.licensing.usage import languages

_BLOCKS = ("h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre", "figcaption")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RemovedAsset:
    credit: str
    reason: str
    caption: str | None


@dataclass
class LicensedCopy:
    headline: str
    byline: str | None
    dateline: str | None
    html: str
    text: str
    attribution: str
    removed: list[RemovedAsset] = field(default_factory=list)
    #: excerpt licences: the most words that may be used
    word_limit: int | None = None
    #: headline-and-summary licences publish only those
    summary_only: bool = False
    #: translation licences: the language to translate into
    translate_into: str | None = None


def _date(value: datetime | None) -> str | None:
    return f"{value:%d %B %Y}".lstrip("0") if value else None


def attribution_text(licence: Licence, publisher: str, verify_url: str) -> str:
    article = licence.article
    published = _date(article.published_at) or _date(licence.issued_at)
    return (f"Originally published by {publisher} on {published}: {article.canonical_url}. "
            f"Republished under licence {licence.number} (check code {licence.check_code}: "
            f"{verify_url}).")


def _strip_assets(soup: BeautifulSoup, blocked: dict[str, RemovedAsset]) -> list[RemovedAsset]:
    removed: list[RemovedAsset] = []
    for img in soup.find_all("img"):
        if not isinstance(img, Tag):
            continue
        src = str(img.get("src") or "")
        if src in blocked:
            figure = img.find_parent("figure")
            (figure if isinstance(figure, Tag) else img).decompose()
            removed.append(blocked[src])
    return removed


def _plain(soup: BeautifulSoup) -> str:
    paragraphs = []
    for block in soup.find_all(_BLOCKS):
        if isinstance(block, Tag) and not block.find_parent(_BLOCKS):
            text = _SPACE.sub(" ", block.get_text(" ")).strip()
            if text:
                paragraphs.append(("- " if block.name == "li" else "") + text)
    if not paragraphs:  # a body without block elements
        text = _SPACE.sub(" ", soup.get_text(" ")).strip()
        paragraphs = [text] if text else []
    return "\n\n".join(paragraphs)


def build_copy(licence: Licence, *, publisher: str, tracking_url: str,
               verify_url: str) -> LicensedCopy:
    """`verify_url` carries the check code: readers of the republished copy can check the
    licence, and nobody without a copy can read the licensee off a guessed number."""
    article = licence.article
    blocked = {
        asset.src: RemovedAsset(credit=asset.credit or "unknown",
                                reason=asset.restriction or "not distributable",
                                caption=asset.caption)
        for asset in article.assets if not asset.is_distributable
    }
    summary_only = licence.portion == "headline_summary"
    if summary_only:
        soup = BeautifulSoup(f"<p>{html.escape(article.summary or '')}</p>", "html.parser")
        removed: list[RemovedAsset] = []
    else:
        soup = BeautifulSoup(article.body_html, "html.parser")
        removed = _strip_assets(soup, blocked)
    attribution = attribution_text(licence, publisher, verify_url)
    dateline = _date(article.published_at)
    headline = article.title
    esc = html.escape
    link = esc(article.canonical_url, quote=True)
    parts = [f"<h1>{esc(headline)}</h1>"]
    if article.byline:
        parts.append(f"<p class=\"byline\">{esc(article.byline)}</p>")
    if dateline:
        parts.append(f"<p class=\"dateline\">{esc(dateline)}</p>")
    parts.append(str(soup))
    parts.append(
        f"<p class=\"attribution\">Originally published by {esc(publisher)} on "
        f"{esc(_date(article.published_at) or _date(licence.issued_at) or '')}: "
        f"<a href=\"{link}\">{esc(article.canonical_url)}</a>. Republished under licence "
        f"<a href=\"{esc(verify_url, quote=True)}\">{esc(licence.number)}</a> (check code "
        f"{esc(licence.check_code)}).</p>")
    # The referring page is what readership counts by: ask browsers to send it whole.
    parts.append(f"<img src=\"{esc(tracking_url, quote=True)}\" width=\"1\" height=\"1\" "
                 "alt=\"\" referrerpolicy=\"no-referrer-when-downgrade\" style=\"border:0\">")
    text_parts = [headline]
    if article.byline:
        text_parts.append(article.byline)
    if dateline:
        text_parts.append(dateline)
    text_parts += [_plain(soup), attribution]
    return LicensedCopy(
        headline=headline,
        byline=article.byline,
        dateline=dateline,
        html="\n".join(parts) + "\n",
        text="\n\n".join(p for p in text_parts if p) + "\n",
        attribution=attribution,
        removed=removed,
        word_limit=licence.excerpt_words if licence.portion == "excerpt" else None,
        summary_only=summary_only,
        translate_into=(languages().get(licence.translation_language or "",
                                        licence.translation_language)
                        if licence.language == "translation" else None),
    )
