"""Article HTML: boilerplate removal, asset extraction, and the allow-list sanitiser.

Feeds carry the publisher's web page markup: newsletter boxes, share bars, "skip to content"
links, advert slots, scripts. `clean_article_html` removes those, lists the images and
embeds (with their credits) as assets, makes links absolute, and passes the result through
`sanitise_html`, the only gate between feed HTML and what the portal stores and republishes.

Image credits come from, in order: a data-credit attribute on the image or its figure; an
element inside the figcaption with a "credit" class, or a <small>/<cite> there; a marker in
the caption text ("Photo: AFP", "© Reuters", "Credit: ...", "Photograph: ..."). A credit
naming an agency makes the asset not distributable. Without a credit, a caption that names
an agency does the same: a licence must never carry agency material by accident.
"""

import functools
import html
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

import nh3
from bs4 import (
    BeautifulSoup,
    MarkupResemblesLocatorWarning,
    Tag,
    XMLParsedAsHTMLWarning,
)

ALLOWED_TAGS = {
    "p", "h2", "h3", "h4", "ul", "ol", "li", "blockquote", "em", "strong", "b", "i", "a",
    "figure", "figcaption", "img", "br", "hr", "code", "pre",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto"}
# Dropped with everything inside them (other unknown tags are unwrapped, keeping their text).
REMOVED_WITH_CONTENT = {
    "script", "style", "noscript", "iframe", "form", "template", "object", "embed", "svg",
    "math", "textarea", "select", "button", "video", "audio",
}

_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    clean_content_tags=REMOVED_WITH_CONTENT,
    # No target attribute survives, so rel="noopener" would protect nothing.
    link_rel=None,
)

# Class or id parts that mark page furniture rather than the story ("newsletter-signup",
# "share_bar", "ad-slot"); whole tokens for names whose parts are too common alone.
_BOILERPLATE_PARTS = {
    "newsletter", "subscribe", "subscription", "signup", "share", "sharing", "social",
    "related", "advert", "advertisement", "ad", "ads", "promo", "sponsored", "paywall",
}
_BOILERPLATE_TOKENS = {"skip-link", "skiplink", "skip-to-content", "sign-up"}
_SKIP_LINK_TEXTS = {"skip to content", "skip to main content"}
_CREDIT_CLASS = re.compile(r"credit", re.IGNORECASE)
_CREDIT_MARKER = re.compile(
    r"\b(?:photo(?:graph)?|picture|image|illustration|credit|source)s?\s*:|©|\(c\)|\bcopyright\b",
    re.IGNORECASE,
)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_EDGE_PUNCTUATION = " \t\n()[]|/,;:–—-"


@dataclass(frozen=True)
class AssetInfo:
    """An image or embed found in an article, before it becomes an Asset row."""

    kind: str
    src: str
    alt: str | None = None
    caption: str | None = None
    credit: str | None = None
    is_distributable: bool = True
    restriction: str | None = None


@dataclass(frozen=True)
class CleanBody:
    html: str
    assets: list[AssetInfo]


def sanitise_html(markup: str) -> str:
    """MARKUP reduced to the allow-list: no scripts, styles, event handlers or unsafe URLs."""
    return _CLEANER.clean(scrub(markup))


def scrub(text: str) -> str:
    """TEXT with NUL and lone surrogates (JSON's \\u0000 and \\ud800 make them) as U+FFFD.

    Lone surrogates cannot be encoded as UTF-8 and PostgreSQL refuses NUL in text.
    """
    return _UNSTORABLE.sub("\ufffd", text)


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs: blank lines separate paragraphs, newlines become <br>."""
    paragraphs = (p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")))
    return "".join(
        "<p>" + html.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs if p
    )


def html_to_text(markup: str) -> str:
    """The text of MARKUP with whitespace collapsed (for titles and summaries)."""
    return _collapse(_parse(markup).get_text(" "))


def agencies_named(text: str | None, agencies: Iterable[str]) -> list[str]:
    """The agencies TEXT names as whole words (any case), in order, as configured.

    "AP" matches "AP Photo" but not "Apple"; "Getty Images" is one agency, not also "Getty".
    """
    if not text:
        return []
    spelling, pattern = _agency_pattern(tuple(agencies))
    if pattern is None:
        return []
    found = [spelling.get(m.group(0).lower(), m.group(0)) for m in pattern.finditer(text)]
    return list(dict.fromkeys(found))


@functools.lru_cache(maxsize=8)
def _agency_pattern(agencies: tuple[str, ...]) -> tuple[dict[str, str], re.Pattern[str] | None]:
    names = sorted({a.strip() for a in agencies if a.strip()}, key=len, reverse=True)
    if not names:
        return {}, None
    # Longest first, so that the alternation prefers "Getty Images" to "Getty".
    alternation = "|".join(re.escape(name) for name in names)
    pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)
    return {name.lower(): name for name in names}, pattern


def make_asset(
    kind: str,
    src: str,
    *,
    agencies: Iterable[str],
    alt: str | None = None,
    caption: str | None = None,
    credit: str | None = None,
) -> AssetInfo:
    """An asset with its distribution decided from its credit (or, lacking one, caption)."""
    restriction = None
    if named := agencies_named(credit, agencies):
        restriction = f"credited to {', '.join(named)} (agency material)"
    elif credit is None and (named := agencies_named(caption, agencies)):
        restriction = f"caption names {', '.join(named)} (possible agency material)"
    return AssetInfo(
        kind=kind,
        src=src,
        alt=alt or None,
        caption=caption or None,
        credit=credit or None,
        is_distributable=restriction is None,
        restriction=restriction,
    )


def clean_article_html(markup: str, *, base_url: str | None, agencies: Iterable[str]) -> CleanBody:
    """The sanitised body of an article and the assets in it.

    BASE_URL (the article's own address) makes relative links and image sources absolute,
    so that the body still works when republished on another site.
    """
    soup = _parse(markup)
    _remove_boilerplate(soup)
    _absolutise(soup, base_url)
    assets = _extract_assets(soup, list(agencies))
    return CleanBody(html=sanitise_html(str(soup)).strip(), assets=assets)


def _parse(markup: str) -> BeautifulSoup:
    # A body that is only a URL, or starts like XML, is still a body: BeautifulSoup's
    # guesses about what the caller meant do not apply here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(scrub(markup), "html.parser")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _remove_boilerplate(soup: BeautifulSoup) -> None:
    doomed = [tag for tag in soup.find_all(True) if _is_boilerplate(tag)]
    for tag in doomed:
        if not tag.decomposed:  # already gone with a doomed ancestor
            tag.decompose()


def _is_boilerplate(tag: Tag) -> bool:
    if tag.name in ("script", "style", "noscript", "form", "template"):
        return True
    if tag.name in ("a", "p", "li"):
        text = _collapse(tag.get_text(" ")).lower().rstrip(" .!›»→")
        if text in _SKIP_LINK_TEXTS:
            return True
    tokens = [*tag.get("class", []), *str(tag.get("id", "")).split()]
    for token in tokens:
        token = token.lower()
        if token in _BOILERPLATE_TOKENS or _BOILERPLATE_PARTS & set(re.split(r"[-_]", token)):
            return True
    return False


def _absolutise(soup: BeautifulSoup, base_url: str | None) -> None:
    for img in soup.find_all("img"):
        # Lazy-loading pages keep the real image in data-src and a placeholder in src.
        lazy = img.get("data-src")
        if lazy and (not img.get("src") or str(img["src"]).startswith("data:")):
            img["src"] = lazy
    if not base_url:
        return
    for tag in soup.find_all(["a", "img", "iframe", "video", "audio", "source"]):
        for attribute in ("href", "src"):
            if tag.get(attribute):
                tag[attribute] = urljoin(base_url, str(tag[attribute]).strip())


def _extract_assets(soup: BeautifulSoup, agencies: list[str]) -> list[AssetInfo]:
    assets = []
    for tag in soup.find_all(["img", "iframe", "video", "audio"]):
        src = str(tag.get("src") or "")
        if not src and (source := tag.find("source")):
            src = str(source.get("src") or "")
        if not src.startswith(("http://", "https://")):
            continue
        caption, credit = _caption_and_credit(tag)
        assets.append(
            make_asset(
                "image" if tag.name == "img" else "embed",
                src,
                agencies=agencies,
                alt=_collapse(str(tag.get("alt") or tag.get("title") or "")),
                caption=caption,
                credit=credit,
            )
        )
    return assets


def _caption_and_credit(tag: Tag) -> tuple[str | None, str | None]:
    figure = tag.find_parent("figure")
    credit = tag.get("data-credit") or (figure.get("data-credit") if figure else None)
    credit = _collapse(str(credit)) if credit else None
    figcaption = figure.find("figcaption") if figure else None
    if figcaption is None:
        return None, credit
    marked = figcaption.find(class_=_CREDIT_CLASS) or figcaption.find(["small", "cite"])
    caption_parts = []
    for string in figcaption.find_all(string=True):
        # identity, not ==: BeautifulSoup compares tags by their markup
        if marked is None or not any(parent is marked for parent in string.parents):
            caption_parts.append(str(string))
    caption = _collapse(" ".join(caption_parts))
    if marked is not None and credit is None:
        credit = _strip_marker(_collapse(marked.get_text(" ")))
    if (match := _CREDIT_MARKER.search(caption)) is not None:
        credit = credit or caption[match.end():].strip(_EDGE_PUNCTUATION + ".") or None
        caption = caption[: match.start()]
    return caption.strip(_EDGE_PUNCTUATION) or None, credit or None


def _strip_marker(credit: str) -> str:
    match = _CREDIT_MARKER.match(credit)
    return credit[match.end():].strip(_EDGE_PUNCTUATION) if match else credit
