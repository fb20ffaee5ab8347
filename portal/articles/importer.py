"""The feed importer: RSS 2.0, Atom and JSON Feed 1.x entries into Article, ArticleRevision, Asset.

It owns reading a feed (a local file, or an http(s) URL fetched with a size cap and a
deadline), refusing a broken or hostile feed as a whole, and turning each entry into an
article. The rules:

- Public addresses only. Unless allow_private_addresses, a URL whose host resolves to a
  loopback, private, link-local, unspecified, multicast or reserved address is refused, for
  the first URL and after every redirect; the connection goes to the very address checked,
  so a second DNS answer cannot slip past (an importer run must not be steered at the
  portal's own network: Redis on 127.0.0.1, the cloud's metadata service on 169.254.169.254).

- All or nothing. The whole feed is read and parsed before the first row is written, and the
  importer only flushes: the caller commits once. A feed that cannot be read, is not a feed,
  is not well-formed, declares XML entities (XXE, "billion laughs"), exceeds the size limit
  or is an invalid JSON Feed raises FeedError and leaves nothing behind.
- An entry without a link, title or body is skipped with its reason; the rest is imported.
- Matching: an entry is the article with the same guid (RSS guid, Atom id, JSON Feed id; the
  link when the entry has none), else the one with the same url_key (see articles.urls).
  A re-import updates that article and never makes a second one. A changed body (compared by
  the hash of the sanitised HTML) bumps the revision and records an ArticleRevision; other
  changes update the fields in place; an entry with no change is skipped as "unchanged" and
  not written at all. The slug is made from the title once, and kept.
- Rights: staff own is_licensable, rights_holder and rights_reason, and re-imports never touch
  them. When it creates an article, the importer fills rights_holder from the entry's own
  rights statement: RSS dc:rights, Atom <rights>, or a JSON Feed item's "_rights" extension
  (a string, or an object with a "holder" string). Feed-level copyright lines are ignored.
- Times are aware UTC. An entry without a publication date but with an update date (common
  in Atom) is taken as published when it was updated.
- Body: RSS content:encoded, else description; Atom content, else summary; JSON Feed
  content_html, else content_text (escaped into paragraphs). The summary is the entry's own
  summary when it has one besides the body, else the start of the body's text.
- Assets: images and embeds in the body (see articles.sanitise), then images the entry
  names outside it (RSS media:content with media:credit, JSON Feed image and banner_image).
  A re-import replaces the article's assets with the new set.
"""

import hashlib
import io
import ipaddress
import json
import re
import socket
import time
import unicodedata
import xml.sax
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from http.client import HTTPConnection, HTTPException, HTTPMessage, HTTPSConnection
from pathlib import Path
from typing import IO, Any
from urllib.error import HTTPError, URLError
from urllib.parse import urljoin, urlsplit
from urllib.request import (
    HTTPHandler,
    HTTPRedirectHandler,
    HTTPSHandler,
    OpenerDirector,
    Request,
    build_opener,
)

import feedparser
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.articles.models import Article, ArticleRevision, Asset
from portal.articles.sanitise import (
    AssetInfo,
    clean_article_html,
    html_to_text,
    make_asset,
    scrub,
    text_to_html,
)
from portal.articles.urls import normalise_url
from portal.db import utcnow

USER_AGENT = "RepublishingPortal/0.1 (feed importer)"
JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/1"
SLUG_MAX_LENGTH = 80
SUMMARY_MAX_LENGTH = 300
# Column sizes of the models: longer values are cut (text) or refused (identifiers).
GUID_MAX_LENGTH = 1000
TITLE_MAX_LENGTH = 500
RIGHTS_HOLDER_MAX_LENGTH = 300
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Latin letters that Unicode decomposition does not reduce to ASCII (å, é, ü ... it does).
_TRANSLITERATION = str.maketrans(
    {"æ": "ae", "ø": "o", "œ": "oe", "ß": "ss", "þ": "th", "ð": "d", "đ": "d", "ł": "l", "ı": "i"}
)
_READ_CHUNK = 64 * 1024

Progress = Callable[[str], None]


class FeedError(Exception):
    """The feed cannot be imported; nothing from it was imported. The message says why."""


BODY_CHANGED = "body changed"


@dataclass
class ImportReport:
    """What one import did, entry by entry (titles; skipped entries with their reason)."""

    source: str
    imported: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: ids of articles whose body changed (a correction): their licensees are told
    corrected: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """The line that ends an import: "Imported 3, updated 1, skipped 2."."""
        return (
            f"Imported {len(self.imported)}, updated {len(self.updated)}, "
            f"skipped {len(self.skipped)}."
        )


@dataclass(frozen=True)
class ExtraImage:
    """An image an entry names outside its body (media:content, JSON Feed image)."""

    src: str
    credit: str | None = None


@dataclass(frozen=True)
class FeedEntry:
    """One entry of any feed format; text fields are plain text, body_html is raw HTML."""

    guid: str | None
    link: str | None
    title: str | None
    body_html: str | None
    summary: str | None = None
    byline: str | None = None
    rights: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    images: tuple[ExtraImage, ...] = ()

    @property
    def label(self) -> str:
        return self.title or self.guid or self.link or "(entry without title, id or link)"


class _Skip(Exception):
    """This entry is left out; the message is the reason."""


# --- the import ---------------------------------------------------------------------------


def import_feed(
    db: Session,
    source: str,
    *,
    agencies: Sequence[str],
    max_bytes: int,
    timeout: float,
    progress: Progress | None = None,
    allow_private_addresses: bool = False,
) -> ImportReport:
    """Import the feed at SOURCE (a local file path or an http(s) URL) into DB; flushes only."""
    data, base_url = read_feed(source, max_bytes=max_bytes, timeout=timeout,
                               allow_private_addresses=allow_private_addresses)
    return import_feed_bytes(
        db, data, source_label=source, agencies=agencies, base_url=base_url, progress=progress
    )


def import_feed_bytes(
    db: Session,
    data: bytes,
    *,
    source_label: str,
    agencies: Sequence[str],
    base_url: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import the feed document DATA; SOURCE_LABEL names it in messages and Article.source.

    BASE_URL (where the document was fetched from) makes relative entry links absolute.
    """
    entries = parse_feed(data, label=source_label, base_url=base_url)
    report = ImportReport(source=source_label)
    seen: set[str] = set()
    for entry in entries:
        try:
            outcome, detail = _import_entry(
                db, entry, source=source_label, agencies=agencies, seen=seen
            )
        except _Skip as skip:
            report.skipped.append((entry.label, str(skip)))
            _tell(progress, f"  skipped   {entry.label}: {skip}")
            continue
        if outcome == "imported":
            report.imported.append(entry.label)
            _tell(progress, f"  imported  {entry.label}")
        else:
            report.updated.append(entry.label)
            _tell(progress, f"  updated   {entry.label} ({detail})")
            if detail.startswith(BODY_CHANGED):
                corrected = db.scalar(select(Article.id).where(Article.guid == (
                    entry.guid or entry.link)))
                if corrected is not None:
                    report.corrected.append(corrected)
    # Constraint violations surface here, inside the caller's transaction, not at its commit.
    db.flush()
    return report


def _tell(progress: Progress | None, line: str) -> None:
    if progress is not None:
        progress(line)


def _import_entry(
    db: Session, entry: FeedEntry, *, source: str, agencies: Sequence[str], seen: set[str]
) -> tuple[str, str]:
    """("imported" | "updated", detail), or raises _Skip."""
    if not entry.link:
        raise _Skip("no link")
    url_key = normalise_url(entry.link)
    if url_key is None:
        raise _Skip(f"link is not a usable http(s) URL: {entry.link[:200]}")
    if not entry.title:
        raise _Skip("no title")
    if not entry.body_html or not entry.body_html.strip():
        raise _Skip("no body")
    guid = entry.guid or entry.link
    if len(guid) > GUID_MAX_LENGTH:
        raise _Skip(f"id is longer than {GUID_MAX_LENGTH} characters")
    if f"id {guid}" in seen or f"url {url_key}" in seen:
        raise _Skip("repeats an earlier entry of this feed")

    body = clean_article_html(entry.body_html, base_url=entry.link, agencies=agencies)
    if not body.html:
        raise _Skip("body is empty once cleaned")
    # Only an entry that is imported claims its id and address: a later one may still use them.
    seen.update((f"id {guid}", f"url {url_key}"))
    body_hash = hashlib.sha256(body.html.encode()).hexdigest()
    assets = _all_assets(body.assets, entry.images, agencies)
    title = entry.title[:TITLE_MAX_LENGTH]
    fields: dict[str, Any] = {
        "guid": guid,
        "canonical_url": entry.link,
        "url_key": url_key,
        "title": title,
        "byline": entry.byline[:500] if entry.byline else None,
        "summary": entry.summary or _summary_of(body.html),
        "published_at": entry.published_at or entry.updated_at,
        "source_updated_at": entry.updated_at,
    }

    article = db.scalar(select(Article).where(Article.guid == guid)) or db.scalar(
        select(Article).where(Article.url_key == url_key)
    )
    if article is None:
        article = Article(
            slug=_unique_slug(db, title),
            body_html=body.html,
            body_hash=body_hash,
            revision=1,
            rights_holder=entry.rights[:RIGHTS_HOLDER_MAX_LENGTH] if entry.rights else None,
            source=source[:2000],
            assets=_asset_rows(assets),
            revisions=[_revision(1, title, body.html, body_hash)],
            **fields,
        )
        db.add(article)
        return "imported", "new"

    if article.url_key != url_key:
        other = db.scalar(select(Article).where(Article.url_key == url_key))
        if other is not None:
            raise _Skip(f"its link belongs to another article ({other.slug})")
    changed = [name for name, value in fields.items() if getattr(article, name) != value]
    assets_changed = [_asset_values(a) for a in article.assets] != assets
    if not changed and not assets_changed and article.body_hash == body_hash:
        raise _Skip("unchanged")

    for name in changed:
        setattr(article, name, fields[name])
    if assets_changed:
        article.assets = _asset_rows(assets)
    article.source = source[:2000]
    if article.body_hash != body_hash:
        article.revision += 1
        article.body_html, article.body_hash = body.html, body_hash
        article.body_changed_at = utcnow()
        article.revisions.append(_revision(article.revision, title, body.html, body_hash))
        return "updated", f"{BODY_CHANGED}, revision {article.revision}"
    if assets_changed:
        changed.append("assets")
    return "updated", f"{', '.join(changed)} changed"


def _revision(number: int, title: str, body_html: str, body_hash: str) -> ArticleRevision:
    return ArticleRevision(number=number, title=title, body_html=body_html, body_hash=body_hash)


def _summary_of(body_html: str) -> str:
    text = html_to_text(body_html)
    if len(text) <= SUMMARY_MAX_LENGTH:
        return text
    return text[:SUMMARY_MAX_LENGTH].rsplit(" ", 1)[0] + "…"


def _all_assets(
    in_body: list[AssetInfo], images: Iterable[ExtraImage], agencies: Sequence[str]
) -> list[AssetInfo]:
    """The body's assets, then the entry's other images, each once, cut to column sizes."""
    assets = list(in_body)
    known = {asset.src for asset in assets}
    for image in images:
        if image.src not in known and image.src.startswith(("http://", "https://")):
            known.add(image.src)
            assets.append(make_asset("image", image.src, agencies=agencies, credit=image.credit))
    return [
        AssetInfo(
            kind=a.kind,
            src=a.src,
            alt=a.alt[:1000] if a.alt else None,
            caption=a.caption,
            credit=a.credit[:500] if a.credit else None,
            is_distributable=a.is_distributable,
            restriction=a.restriction[:300] if a.restriction else None,
        )
        for a in assets
        if len(a.src) <= 2000  # Asset.src; longer ones are data, not addresses
    ]


def _asset_values(asset: Asset) -> AssetInfo:
    return AssetInfo(**{f.name: getattr(asset, f.name) for f in fields(AssetInfo)})


def _asset_rows(assets: list[AssetInfo]) -> list[Asset]:
    return [Asset(position=position, **asdict(a)) for position, a in enumerate(assets, 1)]


def slugify(title: str) -> str:
    """Lowercase ASCII words joined by hyphens, at most SLUG_MAX_LENGTH characters."""
    latin = title.lower().translate(_TRANSLITERATION)
    ascii_title = unicodedata.normalize("NFKD", latin).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")
    if len(slug) > SLUG_MAX_LENGTH:
        slug = slug[: SLUG_MAX_LENGTH + 1].rsplit("-", 1)[0][:SLUG_MAX_LENGTH]
    return slug or "article"


def _unique_slug(db: Session, title: str) -> str:
    base = slugify(title)
    # Autoflush puts articles added earlier in this import into the query too.
    taken = set(
        db.scalars(
            select(Article.slug).where(or_(Article.slug == base, Article.slug.like(f"{base}-%")))
        )
    )
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug


# --- reading ------------------------------------------------------------------------------


class _NotPublic(Exception):
    """A host resolves to an address the importer does not fetch from; the message says which."""


def refused_address(address: str) -> str | None:
    """Why ADDRESS is not fetched from ("loopback", "private", ...), or None when it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # without an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if ip.is_global else "non-public"  # 100.64.0.0/10 (carrier-grade NAT)...


def _public_addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    """HOST's addresses (getaddrinfo's answers) when every one is public, else _NotPublic."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_family, sockaddr in answers:
        reason = refused_address(str(sockaddr[0]))
        if reason is not None:
            raise _NotPublic(
                f"{host} resolves to {sockaddr[0]}, a {reason} address; feeds are fetched "
                "from public addresses only (PORTAL_FEED_ALLOW_PRIVATE_ADDRESSES=true allows "
                "a feed on your own network)")
    return answers


def _check_public(url: str) -> None:
    parts = urlsplit(url)
    _public_addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


def _connect_to_public_address(address: tuple[str, int], timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,
                               source_address: tuple[str, int] | None = None) -> socket.socket:
    """socket.create_connection, to an address that was checked as it was resolved."""
    host, port = address
    error: OSError | None = None
    for *_family, sockaddr in _public_addresses(host, port):
        try:
            return socket.create_connection((sockaddr[0], port), timeout, source_address)
        except OSError as failed:
            error = failed
    raise error or OSError(f"{host}: no address to connect to")


class _PublicHTTPConnection(HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # http.client opens its socket through this attribute (socket.create_connection).
        self._create_connection = _connect_to_public_address


class _PublicHTTPSConnection(HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_to_public_address


def _through_proxy(req: Request) -> bool:
    # A proxy from the environment (HTTP(S)_PROXY) connects on our behalf, and may well sit
    # on a private address: the URLs are still checked, the proxy's address is not.
    return req.has_proxy() or bool(getattr(req, "_tunnel_host", None))


class _PublicHTTPHandler(HTTPHandler):
    def http_open(self, req: Request) -> Any:
        if _through_proxy(req):
            return super().http_open(req)
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(HTTPSHandler):
    def https_open(self, req: Request) -> Any:
        if _through_proxy(req):
            return super().https_open(req)
        return self.do_open(_PublicHTTPSConnection, req,
                            context=getattr(self, "_context", None))


class _HttpOnlyRedirects(HTTPRedirectHandler):
    """urllib follows redirects to ftp:// too; a feed fetch stays on http(s), and on public
    addresses unless private ones are allowed."""

    def __init__(self, allow_private_addresses: bool) -> None:
        self.allow_private_addresses = allow_private_addresses

    def redirect_request(
        self, req: Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> Request | None:
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise FeedError(f"{req.full_url}: redirected to a non-http(s) URL ({newurl[:200]})")
        if not self.allow_private_addresses:
            try:
                _check_public(newurl)
            except _NotPublic as refused:
                raise FeedError(f"{req.full_url}: redirected to {newurl[:200]}, which is "
                                f"refused: {refused}") from None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(allow_private_addresses: bool) -> OpenerDirector:
    redirects = _HttpOnlyRedirects(allow_private_addresses)
    if allow_private_addresses:
        return build_opener(redirects)
    return build_opener(redirects, _PublicHTTPHandler(), _PublicHTTPSHandler())


def read_feed(source: str, *, max_bytes: int, timeout: float,
              allow_private_addresses: bool = False) -> tuple[bytes, str | None]:
    """The bytes of SOURCE, and the URL they came from (None for a local file)."""
    if "://" in source:
        scheme = source.split("://", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise FeedError(
                f"{source[:200]}: {scheme}:// URLs are not supported; "
                "give an http:// or https:// URL, or a local file path"
            )
        return _fetch(source, max_bytes=max_bytes, timeout=timeout,
                      allow_private_addresses=allow_private_addresses)
    return _read_file(source, max_bytes=max_bytes), None


def _too_large(source: str, max_bytes: int) -> FeedError:
    return FeedError(f"{source}: the feed is larger than {max_bytes} bytes (FEED_MAX_BYTES)")


def _timed_out(url: str, timeout: float) -> FeedError:
    return FeedError(f"{url}: no complete answer within {timeout:g} seconds")


def _read_file(source: str, *, max_bytes: int) -> bytes:
    try:
        with Path(source).open("rb") as file:
            data = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise FeedError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise FeedError(f"{source}: is a directory, not a feed file") from None
    except OSError as error:
        raise FeedError(f"{source}: cannot be read ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise _too_large(source, max_bytes)
    return data


def _fetch(url: str, *, max_bytes: int, timeout: float,
           allow_private_addresses: bool) -> tuple[bytes, str]:
    request = Request(url, headers={"User-Agent": USER_AGENT})
    # The socket timeout bounds each wait; the deadline bounds a server that trickles.
    deadline = time.monotonic() + timeout
    try:
        if not allow_private_addresses:
            _check_public(url)  # a clear answer before urllib tries (and checks as it connects)
        with _opener(allow_private_addresses).open(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while size <= max_bytes:
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunk = response.read1(min(_READ_CHUNK, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            final_url = response.geturl()
    except _NotPublic as refused:
        raise FeedError(f"{url}: refused: {refused}") from None
    except HTTPError as error:
        error.close()
        raise FeedError(f"{url}: the server answered {error.code} {error.reason}") from None
    except URLError as error:
        if isinstance(error.reason, TimeoutError):  # while connecting
            raise _timed_out(url, timeout) from None
        raise FeedError(f"{url}: cannot be fetched ({error.reason})") from None
    except TimeoutError:  # while waiting for or reading the answer
        raise _timed_out(url, timeout) from None
    except (OSError, HTTPException, ValueError) as error:
        raise FeedError(f"{url}: cannot be fetched ({error})") from None
    if size > max_bytes:
        raise _too_large(url, max_bytes)
    return b"".join(chunks), final_url


# --- parsing ------------------------------------------------------------------------------


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_PAGE = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_EBCDIC_XML_DECLARATION = b"\x4c\x6f\xa7\x94"


def parse_feed(data: bytes, *, label: str, base_url: str | None = None) -> list[FeedEntry]:
    """The entries of the feed document DATA; FeedError when it is not an importable feed."""
    if not data.strip():
        raise FeedError(f"{label}: the feed is empty")
    if _declares_entities(data):
        raise FeedError(
            f"{label}: the document declares XML entities in a DOCTYPE; refused, since feeds "
            "never need them and they are how XXE and 'billion laughs' attacks work"
        )
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if start[:1] in (b"{", b"["):
        return _parse_json_feed(data, label=label, base_url=base_url)
    if _HTML_PAGE.match(start):
        raise FeedError(
            f"{label}: this is an HTML page, not a feed; "
            "give the address of the RSS, Atom or JSON feed itself"
        )
    return _parse_xml_feed(data, label=label, base_url=base_url)


def _declares_entities(data: bytes) -> bool:
    # Without NULs, UTF-16 and UTF-32 documents show their markup as ASCII. feedparser also
    # reads EBCDIC, so that is looked at too. (feedparser drops most entity declarations
    # itself; refusing them outright gives a clear answer instead of a silently odd import.)
    views = [data.replace(b"\x00", b"")]
    if data.startswith(_EBCDIC_XML_DECLARATION):
        views.append(data.decode("cp037").encode("ascii", "replace"))
    for view in views:
        doctype = _DOCTYPE.search(view)
        if doctype is not None and _ENTITY.search(view, doctype.end()):
            return True
    return False


def _parse_xml_feed(data: bytes, *, label: str, base_url: str | None) -> list[FeedEntry]:
    # A stream, never bytes or str: feedparser would open a string that names a file or URL.
    parsed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=True)
    problem = parsed.get("bozo_exception")
    if parsed.bozo and not isinstance(problem, feedparser.CharacterEncodingOverride):
        if isinstance(problem, xml.sax.SAXParseException):
            raise FeedError(
                f"{label}: not well-formed XML (line {problem.getLineNumber()}, "
                f"column {problem.getColumnNumber()}: {problem.getMessage()})"
            )
        raise FeedError(f"{label}: not a readable feed ({problem})")
    if not parsed.version:
        raise FeedError(f"{label}: not an RSS, Atom or JSON feed")
    return [_feedparser_entry(entry, base_url) for entry in parsed.entries]


def _feedparser_entry(entry: Any, base_url: str | None) -> FeedEntry:
    link = _clean(entry.get("link"))
    if link and base_url:
        link = urljoin(base_url, link)
    # An RSS item without <link> gets its guid as link; that is only a link if it is a URL.
    if entry.get("guidislink") and normalise_url(link) is None:
        link = None
    contents = entry.get("content") or []
    content = next((c for c in contents if c.get("type") in _HTML_TYPES), None)
    content = content or (contents[0] if contents else None)
    # feedparser copies the content into "summary" when there is none; only a real summary
    # comes with summary_detail.
    summary = entry.get("summary_detail")
    body_detail = content or summary
    names = [name for author in entry.get("authors", []) if (name := _clean(author.get("name")))]
    return FeedEntry(
        guid=_clean(entry.get("id")),
        link=link,
        title=_detail_text(entry.get("title_detail")) or _clean(entry.get("title")),
        body_html=_detail_html(body_detail),
        summary=_detail_text(summary) if content and summary else None,
        byline=", ".join(names) or None,
        rights=_detail_text(entry.get("rights_detail")) or _clean(entry.get("rights")),
        published_at=_struct_time(entry.get("published_parsed")),
        # dict.get: feedparser's own get() answers a missing updated date with the published
        # one (and a DeprecationWarning); a feed that gives no update date has none.
        updated_at=_struct_time(dict.get(entry, "updated_parsed")),
        images=_media_images(entry),
    )


def _detail_html(detail: Any) -> str | None:
    if not detail or not detail.get("value"):
        return None
    value = str(detail["value"])
    return value if detail.get("type") in _HTML_TYPES else text_to_html(value)


def _detail_text(detail: Any) -> str | None:
    if not detail or not detail.get("value"):
        return None
    value = str(detail["value"])
    return (html_to_text(value) if detail.get("type") in _HTML_TYPES else _clean(value)) or None


def _media_images(entry: Any) -> tuple[ExtraImage, ...]:
    media = [
        m
        for m in entry.get("media_content", [])
        if m.get("url")
        and (m.get("medium") == "image" or str(m.get("type", "")).startswith("image/"))
    ]
    credits = [_clean(c.get("content")) for c in entry.get("media_credit", [])]
    # feedparser lists media:credit per entry, not per media:content: pair them when the
    # counts agree; one credit for several images credits them all.
    if len(credits) == 1:
        credits = credits * len(media)
    elif len(credits) != len(media):
        credits = [None] * len(media)
    return tuple(ExtraImage(src=m["url"], credit=c) for m, c in zip(media, credits, strict=True))


def _struct_time(value: time.struct_time | None) -> datetime | None:
    # feedparser gives UTC struct_times.
    return datetime(*value[:6], tzinfo=UTC) if value else None


def _clean(value: object) -> str | None:
    """VALUE as a string with whitespace collapsed, None when empty."""
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def _parse_json_feed(data: bytes, *, label: str, base_url: str | None) -> list[FeedEntry]:
    try:
        document = json.loads(data)
    except RecursionError:
        raise FeedError(f"{label}: not a usable JSON document (nested too deeply)") from None
    except ValueError as error:
        raise FeedError(f"{label}: not valid JSON ({error})") from None
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSION_PREFIX):
        raise FeedError(
            f'{label}: JSON, but not a JSON Feed (its "version" must start with '
            f'"{JSON_FEED_VERSION_PREFIX}")'
        )
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedError(f'{label}: invalid JSON Feed: "items" must be a list')
    home = document.get("home_page_url")
    base = base_url or (home if isinstance(home, str) else None)
    return [_JsonItem(item, number, label).entry(base) for number, item in enumerate(items, 1)]


class _JsonItem:
    """One JSON Feed item, checked field by field against the JSON Feed 1.1 types."""

    def __init__(self, item: object, number: int, label: str) -> None:
        self.where = f"{label}: invalid JSON Feed: item {number}"
        if not isinstance(item, dict):
            raise FeedError(f"{self.where} is not an object")
        self.item = item

    def invalid(self, key: str, expected: str) -> FeedError:
        return FeedError(f'{self.where}: "{key}" must be {expected}')

    def string(self, key: str, container: dict[str, Any] | None = None) -> str | None:
        value = (self.item if container is None else container).get(key)
        if value is not None and not isinstance(value, str):
            raise self.invalid(key, "a string")
        return scrub(value) if value else None

    def date(self, key: str) -> datetime | None:
        value = self.string(key)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
            # RFC 3339 always has an offset; a date without one is taken as UTC.
            return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved across UTC
            raise self.invalid(key, "an RFC 3339 date") from None

    def byline(self) -> str | None:
        authors = self.item.get("authors")
        if authors is None and self.item.get("author") is not None:  # JSON Feed 1.0
            authors = [self.item["author"]]
        if authors is None:
            return None
        if not isinstance(authors, list) or not all(isinstance(a, dict) for a in authors):
            raise self.invalid("authors", "a list of objects")
        names = [_clean(self.string("name", author)) for author in authors]
        return ", ".join(name for name in names if name) or None

    def rights(self) -> str | None:
        rights = self.item.get("_rights")
        if isinstance(rights, dict):
            return _clean(self.string("holder", rights))
        if rights is not None and not isinstance(rights, str):
            raise self.invalid("_rights", 'a string or an object with a "holder"')
        return _clean(self.string("_rights"))

    def entry(self, base_url: str | None) -> FeedEntry:
        identifier = self.item.get("id")
        if isinstance(identifier, int) and not isinstance(identifier, bool):
            identifier = str(identifier)  # JSON Feed 1.0 feeds often used numbers
        else:
            identifier = self.string("id")
        link = self.string("url")
        if link and base_url:
            link = urljoin(base_url, link)
        content_html, content_text = self.string("content_html"), self.string("content_text")
        images = (self.string("image"), self.string("banner_image"))
        return FeedEntry(
            guid=_clean(identifier),
            link=_clean(link),
            title=_clean(self.string("title")),
            body_html=content_html or (text_to_html(content_text) if content_text else None),
            summary=_clean(self.string("summary")),
            byline=self.byline(),
            rights=self.rights(),
            published_at=self.date("date_published"),
            updated_at=self.date("date_modified"),
            images=tuple(ExtraImage(src=src) for src in images if src),
        )
