"""Imports every model module, so that Base.metadata knows every table (Alembic, tests)."""

from portal.articles.models import Article, ArticleRevision, Asset
from portal.db import Base
from portal.licensing.models import AuditEvent, RepublishRequest
from portal.notifications.models import OutboxEmail
from portal.sequences import Counter

__all__ = [
    "Article", "ArticleRevision", "Asset", "AuditEvent", "Base", "Counter", "OutboxEmail",
    "RepublishRequest",
]
