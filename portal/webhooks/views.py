"""POST /webhooks/stripe: the only CSRF-exempt POST. Verify, apply once, answer Stripe."""

from flask import Blueprint, current_app, request

from portal import db as database
from portal.extensions import csrf
from portal.payments.provider import ProviderError, ProviderUnavailable
from portal.payments.registry import provider
from portal.uow import explain
from portal.workflows.providers import handle_event, is_applied

bp = Blueprint("webhooks", __name__)

#: Stripe's events are small, but larger than the portal's form limit
MAX_EVENT_BYTES = 512 * 1024
#: concurrent deliveries of one payment's events: the loser tries again this many times
ATTEMPTS = 3


@bp.post("/webhooks/stripe")
@csrf.exempt
def stripe_webhook() -> tuple[dict[str, object], int]:
    request.max_content_length = MAX_EVENT_BYTES
    if not current_app.config.get("STRIPE_WEBHOOK_SECRET") or not current_app.config.get(
            "STRIPE_SECRET_KEY"):
        return {"error": "Stripe webhooks are not set up on this portal."}, 400
    payload = request.get_data()
    stripe = provider("stripe")
    try:
        event = stripe.parse_webhook(payload, request.headers.get("Stripe-Signature"))
    except ValueError as error:
        current_app.logger.warning("stripe webhook refused: %s", error)
        return {"error": str(error)}, 400
    db = database.session()
    for _attempt in range(ATTEMPTS):
        try:
            outcome = handle_event(db, stripe, event)
            return {"received": True, "event": event.id, "outcome": outcome}, 200
        except ProviderUnavailable as error:
            db.rollback()
            # Stripe retries a failed delivery for three days.
            return {"error": error.message + " Retry later."}, 503
        except ProviderError as error:
            db.rollback()
            current_app.logger.error("stripe event %s not applied: %s", event.id, error.message)
            return {"error": error.message}, 500
        except Exception as error:  # noqa: BLE001 - a concurrent delivery, mapped below
            db.rollback()
            failure = explain(error)
            if failure is None:
                raise
            # Another delivery applied the same change first (or the database chose this
            # one to give way in a deadlock): look again.
            if is_applied(db, event.id):
                return {"received": True, "event": event.id, "outcome": "already applied"}, 200
    return {"error": "The event kept colliding with other deliveries. Retry later."}, 503
