"""What admins change in the back office, and the rules on it: staff accounts (the desk
always keeps an active admin, and no admin locks themselves out), articles' rights, and the
reusable decline reasons; also the article catalogue as admins browse it.

Every change takes the database session and the acting admin, checks its rule, logs who did
what, and flushes at most: the view commits. Nothing here reads the HTTP request.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import security_events
from portal.articles.models import Article
from portal.db import escape_like
from portal.licensing.models import DeclineTemplate
from portal.licensing.pricing import PRICE_TIERS
from portal.staff.auth import (
    StaffAccountError,
    create_user,
    deactivate_user,
    normalise_email,
)
from portal.staff.models import StaffRole, StaffUser

log = logging.getLogger(__name__)

ARTICLES_PAGE_SIZE = 50
#: what the catalogue's "licensable" filter takes from the address
LICENSABLE_FILTERS = {"yes": True, "no": False}


class ChangeRefused(Exception):
    """A change the rules forbid whatever was typed (it would leave the desk without an
    active admin, or lock an admin out of their own account); the message says what to do."""


class RightsError(ValueError):
    """Rights that cannot be stored as given; `field` is the form field the message is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class DuplicateTitle(ValueError):
    """Another decline reason already has this title."""

    def __init__(self, title: str) -> None:
        super().__init__(f"There is already a reason titled “{title}”. Choose another title, "
                         "or change that reason instead.")


# --- staff accounts -----------------------------------------------------------------------

def add_staff(db: Session, *, email: str, name: str, role: StaffRole, password: str,
              actor: StaffUser) -> StaffUser:
    """A new active account; StaffAccountError (from auth) for a bad or taken address or a
    password the policy refuses."""
    try:
        user = create_user(db, email, role, password, name)
    except IntegrityError as error:
        # A colleague added the same address between create_user's check and its flush.
        raise StaffAccountError(
            f"There is already a staff account for {normalise_email(email)}.") from error
    log.info("%s added %s (%s) as %s", actor.actor, user.actor, user.email, role.value)
    security_events.record(db, "staff_added", actor=actor.actor, target=user.email,
                           detail=f"as {role.value}")
    return user


def _keep_an_admin(db: Session, user: StaffUser) -> None:
    """Refuse to take away the last active admin: nobody could manage staff afterwards.

    The active admins' rows are locked (on PostgreSQL) until the commit, so two admins
    demoting each other at the same moment cannot both succeed: the second waits for the
    first to commit, then finds that its target is the last active admin.
    """
    if not (user.is_active and user.role == StaffRole.ADMIN):
        return
    admins = db.scalars(
        select(StaffUser.id)
        .where(StaffUser.role == StaffRole.ADMIN, StaffUser.is_active)
        .with_for_update()
    ).all()
    if list(admins) == [user.id]:
        raise ChangeRefused(
            f"{user.email} is the last active admin. Make someone else an admin first, so "
            "that the desk keeps someone who can manage staff.")


def change_role(db: Session, user: StaffUser, role: StaffRole, *, actor: StaffUser) -> None:
    """Give `user` another role; it applies from their next page, sessions stay signed in."""
    if user.role == role:
        return
    _keep_an_admin(db, user)
    if user.id == actor.id:
        raise ChangeRefused("You cannot change your own role. Ask another admin to do it.")
    log.info("%s changed the role of %s from %s to %s", actor.actor, user.actor,
             user.role.value, role.value)
    security_events.record(db, "staff_role_changed", actor=actor.actor, target=user.email,
                           detail=f"{user.role.value} → {role.value}")
    user.role = role


def deactivate(db: Session, user: StaffUser, *, actor: StaffUser) -> int:
    """Stop `user` signing in and end their sessions at once; returns how many ended."""
    _keep_an_admin(db, user)
    if user.id == actor.id:
        raise ChangeRefused("You cannot deactivate your own account. Ask another admin to "
                            "do it.")
    ended = deactivate_user(db, user)
    log.info("%s deactivated %s, ending %d sessions", actor.actor, user.actor, ended)
    security_events.record(db, "staff_deactivated", actor=actor.actor, target=user.email,
                           detail=f"{ended} open session{'' if ended == 1 else 's'} ended")
    return ended


def reactivate(db: Session, user: StaffUser, *, actor: StaffUser) -> None:
    """Let `user` sign in again (with their old password and role)."""
    if not user.is_active:
        log.info("%s reactivated %s", actor.actor, user.actor)
        security_events.record(db, "staff_reactivated", actor=actor.actor, target=user.email)
    user.is_active = True


# --- articles -----------------------------------------------------------------------------

def _yes(value: bool) -> str:
    return "yes" if value else "no"


@dataclass(frozen=True)
class Rights:
    """What admins decide about an article: whether it is licensed at all, and at what tier."""

    is_licensable: bool
    #: None: the publisher holds the rights
    rights_holder: str | None
    #: shown to visitors when the article is not licensable
    rights_reason: str | None
    #: a key of pricing.PRICE_TIERS
    price_tier: str


def set_rights(db: Session, article: Article, rights: Rights, *, actor: StaffUser) -> None:
    """Store the article's rights. Requests already made keep what they were made under:
    only the article's row changes."""
    if rights.price_tier not in PRICE_TIERS:
        raise RightsError("price_tier", "Please choose one of the price tiers.")
    if not rights.is_licensable and not rights.rights_reason:
        # Visitors who open the request form of such an article read this instead.
        raise RightsError("rights_reason", "Please say why the article cannot be licensed: "
                                           "visitors who want to republish it read this.")
    before = (article.is_licensable, article.price_tier)
    article.is_licensable = rights.is_licensable
    article.rights_holder = rights.rights_holder
    article.rights_reason = rights.rights_reason
    article.price_tier = rights.price_tier
    log.info("%s set the rights of article %d: licensable %s -> %s, tier %s -> %s",
             actor.actor, article.id, before[0], rights.is_licensable, before[1],
             rights.price_tier)
    security_events.record(
        db, "article_rights_changed", actor=actor.actor, target=f"article {article.id}",
        detail=f"{article.title[:200]}: licensable {_yes(before[0])} → "
               f"{_yes(rights.is_licensable)}, tier {before[1]} → {rights.price_tier}, "
               f"rights holder {rights.rights_holder or 'the publisher'}")


@dataclass(frozen=True)
class ArticleFilters:
    """The catalogue's search and filters, as read from the address bar."""

    q: str = ""
    #: a key of LICENSABLE_FILTERS, or "" for any
    licensable: str = ""
    #: a key of PRICE_TIERS, or "" for any
    tier: str = ""
    page: int = 1
    #: the names of the filters that could not be understood, and were ignored
    ignored: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "ArticleFilters":
        """Read the filters from the query string; what is not understood is ignored."""
        ignored: list[str] = []

        def pick(name: str, allowed: Mapping[str, object]) -> str:
            value = args.get(name, "")
            if value and value not in allowed:
                ignored.append(name)
                return ""
            return value

        page = args.get("page", "")
        # Checked before int(): int() refuses a long enough string of digits (and "²").
        number = int(page) if page.isascii() and page.isdigit() and len(page) < 7 else 1
        return cls(
            q=args.get("q", "").strip()[:200],
            licensable=pick("licensable", LICENSABLE_FILTERS),
            tier=pick("tier", PRICE_TIERS),
            page=max(number, 1),
            ignored=ignored,
        )

    def args(self, **changes: Any) -> dict[str, str | int]:
        """The query string of these filters (with `changes`), for links."""
        changed = replace(self, **changes)
        values = {"q": changed.q, "licensable": changed.licensable, "tier": changed.tier,
                  "page": changed.page if changed.page != 1 else ""}
        return {name: value for name, value in values.items() if value}


@dataclass(frozen=True)
class ArticlePage:
    articles: list[Article]
    total: int
    pages: int


def load_articles(db: Session, filters: ArticleFilters) -> ArticlePage:
    """One page of the catalogue, newest first: two queries whatever the number of rows."""
    statement = select(Article)
    if filters.q:
        statement = statement.where(
            Article.title.ilike("%" + escape_like(filters.q) + "%", escape="\\"))
    if filters.licensable:
        statement = statement.where(
            Article.is_licensable == LICENSABLE_FILTERS[filters.licensable])
    if filters.tier:
        statement = statement.where(Article.price_tier == filters.tier)
    total = db.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = db.scalars(
        statement.order_by(Article.published_at.desc().nulls_last(), Article.id.desc())
        .limit(ARTICLES_PAGE_SIZE)
        .offset((filters.page - 1) * ARTICLES_PAGE_SIZE)
    ).all()
    return ArticlePage(articles=list(rows), total=total,
                       pages=max(1, -(-total // ARTICLES_PAGE_SIZE)))


# --- decline reasons ----------------------------------------------------------------------

@dataclass(frozen=True)
class DeclineReason:
    """A reusable reason as an admin writes it; the decline form lists them by position."""

    title: str
    body: str
    position: int


def _check_title_free(db: Session, title: str, template_id: int | None) -> None:
    # Titles are what staff pick from when declining: two that differ only in case would
    # read as one, so they count as the same here (the database's unique index is exact).
    taken = select(DeclineTemplate.id).where(func.lower(DeclineTemplate.title) == title.lower())
    if template_id is not None:
        taken = taken.where(DeclineTemplate.id != template_id)
    if db.scalar(taken.limit(1)) is not None:
        raise DuplicateTitle(title)


def _flush_unique(db: Session, title: str) -> None:
    # Flushed here so that a title a colleague saved a moment ago fails as DuplicateTitle
    # (from the unique index) rather than at the view's commit.
    try:
        db.flush()
    except IntegrityError as error:
        raise DuplicateTitle(title) from error


def add_decline_template(db: Session, reason: DeclineReason, *,
                         actor: StaffUser) -> DeclineTemplate:
    _check_title_free(db, reason.title, None)
    template = DeclineTemplate(title=reason.title, body=reason.body, position=reason.position)
    db.add(template)
    _flush_unique(db, reason.title)
    log.info("%s added decline reason %d (%r)", actor.actor, template.id, template.title)
    return template


def update_decline_template(db: Session, template: DeclineTemplate, reason: DeclineReason, *,
                            actor: StaffUser) -> None:
    """Change a reason; requests declined with it keep the text they were sent."""
    _check_title_free(db, reason.title, template.id)
    template.title, template.body, template.position = reason.title, reason.body, reason.position
    _flush_unique(db, reason.title)
    log.info("%s changed decline reason %d (%r)", actor.actor, template.id, template.title)


def delete_decline_template(db: Session, template: DeclineTemplate, *,
                            actor: StaffUser) -> None:
    """Remove a reason from the list; declines already sent keep their text (it was copied)."""
    db.delete(template)
    log.info("%s deleted decline reason %d (%r)", actor.actor, template.id, template.title)
