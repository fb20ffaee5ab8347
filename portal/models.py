"""Imports every model module, so that Base.metadata knows every table (Alembic, tests)."""

from portal.articles.models import Article, ArticleRevision, Asset
from portal.audit import AuditEvent
from portal.db import Base
from portal.jobs.models import JobRun
from portal.licences.models import Licence, LicenceTerms
from portal.licences.tracking import LicenceView
from portal.licensing.models import (
    DeclineTemplate,
    Quote,
    RepublishRequest,
    RequestMessage,
    RequestToken,
)
from portal.licensing.ratecard import RateCard, RateFactor
from portal.notifications.models import OutboxEmail
from portal.payments.models import DemoCheckout, Payment, ProviderEvent
from portal.security_events import SecurityEvent
from portal.sequences import Counter
from portal.staff.models import StaffSession, StaffUser

__all__ = [
    "Article", "ArticleRevision", "Asset", "AuditEvent", "Base", "Counter", "DeclineTemplate",
    "DemoCheckout", "JobRun", "Licence", "LicenceTerms", "LicenceView", "OutboxEmail", "Payment",
    "ProviderEvent", "Quote", "RateCard", "RateFactor", "RepublishRequest", "RequestMessage",
    "RequestToken", "SecurityEvent", "StaffSession", "StaffUser",
]
