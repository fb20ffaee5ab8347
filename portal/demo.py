"""`flask --app portal demo load`: sample articles written for this project and the default
rate card, for a first look.

The sample feed ships in portal/demo_data/ and goes through the real importer, so the demo
shows what an import of the publisher's own feed gives. Loading twice changes nothing.
"""

from collections.abc import Iterator
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from portal.articles.importer import import_feed_bytes
from portal.articles.models import Article
from portal.licensing.ratecard import seed_default_rate_card
from portal.staff.auth import create_user, find_user
from portal.staff.models import StaffRole
from portal.uow import unit_of_work

DEMO_FEED = Path(__file__).parent / "demo_data" / "articles.json"
NOT_LICENSABLE_GUID = "demo-2026-syndicated-interview"
#: the demo's back-office account: a known password, so it exists only outside production
DEMO_STAFF_EMAIL = "desk@northernledger.example"
DEMO_STAFF_PASSWORD = "republish-demo"


class DemoRefused(RuntimeError):
    """The demo data (with its known password) is never loaded into production."""


def load_demo() -> Iterator[str]:
    config = current_app.config
    if config["ENV"] == "production":
        raise DemoRefused("demo data is for a first look, never for production")
    # The sample bodies point at images the portal itself serves.
    feed = DEMO_FEED.read_text("utf-8").replace("{base}", config["BASE_URL"])
    with unit_of_work() as db:
        report = import_feed_bytes(
            db, feed.encode(), source_label="demo feed", agencies=config["AGENCY_CREDITS"]
        )
        syndicated = db.scalar(select(Article).where(Article.guid == NOT_LICENSABLE_GUID))
        if syndicated is not None:
            syndicated.is_licensable = False
            syndicated.rights_holder = "A partner magazine (syndicated content)"
            syndicated.rights_reason = (
                "This interview was syndicated to us by a partner magazine, and our "
                "agreement does not let us license it to others."
            )
        card = seed_default_rate_card(db, config["CURRENCIES"][0])
        if find_user(db, DEMO_STAFF_EMAIL) is None:
            create_user(db, DEMO_STAFF_EMAIL, StaffRole.ADMIN, DEMO_STAFF_PASSWORD,
                        name="Demo licensing desk")
    yield report.summary()
    yield f"Rate card in {card.currency}: edit it under /staff/rate-card."
    base = config["BASE_URL"]
    yield (f"Back office: {base}/staff/ as {DEMO_STAFF_EMAIL}, "
           f"password {DEMO_STAFF_PASSWORD} (demo only).")
    yield f"Demo data loaded: open {base}/."
