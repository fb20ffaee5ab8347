"""When the publisher corrects or withdraws an article: licensees are told, with the
corrected copy; a withdrawal makes the article unlicensable and revokes its licences."""

from flask import current_app
from sqlalchemy.orm import Session

from portal.articles.models import Article
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


def withdraw_article(db: Session, article_id: int, *, reason: str, actor: str) -> int:
    """Take an article down (legal reasons): it is no longer licensable, and every licence
    of it still in force is revoked, its holder told to take the copy down."""
    article = db.get(Article, article_id)
    if article is None:
        raise ValueError("No such article.")
    article.is_licensable = False
    article.rights_reason = f"Withdrawn by the publisher: {reason}"[:1000]
    revoked = 0
    for licence in licences.holders(db, article_id,
                                    (LicenceStatus.ACTIVE, LicenceStatus.SUSPENDED)):
        if licences.set_status(db, licence, LicenceStatus.REVOKED, actor=actor,
                               reason=f"the publisher withdrew the article ({reason})"):
            revoked += 1
    return revoked
