"""When the publisher corrects or withdraws an article: licensees are told, with the
corrected copy; a withdrawal makes the article unlicensable and revokes its licences."""

from flask import current_app
from sqlalchemy.orm import Session

from portal import security_events
from portal.articles.models import Article
from portal.db import utcnow
from portal.licences import services as licences
from portal.licences.copy import build_copy
from portal.licences.models import LicenceStatus
from portal.urls import link


def tell_licensees_of_correction(db: Session, article_ids: list[int]) -> int:
    """E-mail the corrected copy to holders of active licences of these articles."""
    told = 0
    for article_id in article_ids:
        for licence in licences.holders(db, article_id, (LicenceStatus.ACTIVE,)):
            if not licence.is_active:
                continue
            copy = build_copy(licence, publisher=current_app.config["PUBLISHER_NAME"],
                              tracking_url=link("tracking.pixel", key=licence.tracking_key),
                              verify_url=link("licences.verify", number=licence.number,
                                              code=licence.check_code))
            licences.tell_of_correction(db, licence, copy_text=copy.text)
            told += 1
    return told


#: what the public (and a requester refused at the form) reads of a withdrawn article; the
#: reason staff gave stays in `withdrawal_reason`
WITHDRAWN_PUBLIC = "The publisher has withdrawn this article."
#: what the holder of a licence revoked by the withdrawal reads (status page, e-mail)
REVOKED_FOR_WITHDRAWAL = "the publisher withdrew the article"


def withdraw_article(db: Session, article_id: int, *, reason: str, actor: str) -> int:
    """Take an article down (legal reasons): it is no longer licensable, and every licence
    of it still in force is revoked, its holder told to take the copy down."""
    article = db.get(Article, article_id)
    if article is None:
        raise ValueError("No such article.")
    article.is_licensable = False
    article.rights_reason = WITHDRAWN_PUBLIC
    article.withdrawn_at = utcnow()
    article.withdrawal_reason = reason
    security_events.record(db, "article_withdrawn", actor=actor, target=f"article {article.id}",
                           detail=f"{article.title[:200]}: {reason}")
    revoked = 0
    for licence in licences.holders(db, article_id,
                                    (LicenceStatus.ACTIVE, LicenceStatus.SUSPENDED)):
        if licences.set_status(db, licence, LicenceStatus.REVOKED, actor=actor,
                               reason=REVOKED_FOR_WITHDRAWAL):
            revoked += 1
    return revoked
