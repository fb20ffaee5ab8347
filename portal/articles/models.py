"""The article catalogue: articles, their revisions, and the assets inside them."""

from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, String, Text, UniqueConstraint, and_, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, utcnow


class Article(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: path segment of the public URLs (/articles/<slug>)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    #: the feed's id for the entry (guid, Atom id, JSON Feed id); how re-imports find it
    guid: Mapped[str] = mapped_column(String(1000), unique=True)
    #: the article's address on the publisher's own site
    canonical_url: Mapped[str] = mapped_column(String(2000))
    #: canonical_url normalised (see articles.urls); /republish?url= looks this up
    url_key: Mapped[str] = mapped_column(String(2000), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    byline: Mapped[str | None] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    #: sanitised HTML (allow-list), boilerplate removed
    body_html: Mapped[str] = mapped_column(Text)
    #: sha256 of body_html, to tell a changed body from a re-import of the same one
    body_hash: Mapped[str] = mapped_column(String(64))
    #: 1 at first import, +1 each time the body changes
    revision: Mapped[int] = mapped_column(default=1)
    published_at: Mapped[datetime | None]
    #: when the feed said the entry was last modified
    source_updated_at: Mapped[datetime | None]
    #: when a re-import last brought a different body
    body_changed_at: Mapped[datetime | None]
    #: False: the publisher does not license this piece (rights_reason says why)
    is_licensable: Mapped[bool] = mapped_column(default=True)
    #: who holds the rights when it is not the publisher (a syndicated piece)
    rights_holder: Mapped[str | None] = mapped_column(String(300))
    #: shown to visitors when the article is not licensable (public words, written as such)
    rights_reason: Mapped[str | None] = mapped_column(String(1000))
    #: when staff withdrew the article (a takedown): from then on its public pages say only
    #: that it is no longer available
    withdrawn_at: Mapped[datetime | None]
    #: why it was withdrawn (often legal): for staff only, never on a public page
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)
    #: the rate card's per-article override: "standard", "premium" (the rate card's premium
    #: factor applies) or "not_for_sale" (no suggested fee, no auto-quote: staff decide)
    price_tier: Mapped[str] = mapped_column(String(16), default="standard")
    #: the feed file or URL it was last imported from
    source: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def is_embargoed(self, now: datetime | None = None) -> bool:
        """Published in the future: hidden from the public until then."""
        return self.published_at is not None and self.published_at > (now or utcnow())

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @classmethod
    def listed(cls, now: datetime) -> ColumnElement[bool]:
        """The articles the public catalogue shows: published by `now`, not withdrawn."""
        return and_(or_(cls.published_at.is_(None), cls.published_at <= now),
                    cls.withdrawn_at.is_(None))

    assets: Mapped[list["Asset"]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="Asset.position"
    )
    revisions: Mapped[list["ArticleRevision"]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleRevision.number"
    )


class ArticleRevision(Base):
    """Each body an article has had; a licence names the revision it covers."""

    __tablename__ = "article_revisions"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(500))
    body_html: Mapped[str] = mapped_column(Text)
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="revisions")


class Asset(Base):
    """An image or embed inside an article, with its credit."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    #: order within the article
    position: Mapped[int]
    #: "image" or "embed"
    kind: Mapped[str] = mapped_column(String(20))
    src: Mapped[str] = mapped_column(String(2000))
    alt: Mapped[str | None] = mapped_column(String(1000))
    caption: Mapped[str | None] = mapped_column(Text)
    credit: Mapped[str | None] = mapped_column(String(500))
    #: False for agency material: never part of a licensed copy
    is_distributable: Mapped[bool] = mapped_column(default=True)
    #: why it is not distributable ("credited to AFP")
    restriction: Mapped[str | None] = mapped_column(String(300))

    article: Mapped[Article] = relationship(back_populates="assets")
