"""The public pages' rate limits (Flask-Limiter), and what a person sees when one is hit.

What these limits count, and why:
- the request form counts *accepted* submissions only (per client address, per requester
  e-mail address, per article): a form sent back with errors costs nothing, so correcting
  it is never refused; a refusal keeps what was typed and says when to try again;
- status links count *misses* only (per client address): someone guessing tokens is stopped,
  a requester following the links they were sent never adds to the count;
- "send me a new link" counts every use (per client address), as it sends mail;
- licence verification counts *wrong check codes* only (per client address, and per licence
  number so that many addresses together cannot grind one licence's code): a right code, or
  a visit without a code, costs nothing.

The limit is tested before the view runs and spent after it (Flask-Limiter's
`deduct_when`), so a refused submission stores nothing.
"""

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email
from flask import current_app, g, jsonify, make_response, request, url_for
from flask.wrappers import Response
from flask_limiter import RequestLimit
from flask_limiter.util import get_remote_address
from limits import parse_many

from portal.errors import render_error
from portal.extensions import limiter

log = logging.getLogger(__name__)

#: set on `g` by a view whose submission was accepted (stored, mail queued)
ACCEPTED = "throttle_accepted"
#: set on `g` when a status-token lookup found nothing
MISSED = "throttle_token_missed"
#: set on `g` when a licence check code was given and matched nothing
CODE_WRONG = "throttle_check_code_wrong"


def _setting(key: str) -> Callable[[], str]:
    return lambda: str(current_app.config[key])


def mark_accepted() -> None:
    setattr(g, ACCEPTED, True)


def mark_missed() -> None:
    setattr(g, MISSED, True)


def mark_code_wrong() -> None:
    setattr(g, CODE_WRONG, True)


def _was_accepted(response: Response) -> bool:
    return bool(g.get(ACCEPTED, False))


def _was_missed(response: Response) -> bool:
    return bool(g.get(MISSED, False))


def _code_was_wrong(response: Response) -> bool:
    return bool(g.get(CODE_WRONG, False))


def submitted_email() -> str:
    """The requester address typed into the form, as the limit counts it: as requests store
    it (an international domain in ASCII), lower-cased; "-" when empty, since Flask-Limiter
    skips a limit whose key is empty."""
    typed = request.form.get("requester_email", "").strip()[:320]
    # An address the form refuses is never counted anyway: it is kept as typed.
    with contextlib.suppress(EmailNotValidError):
        typed = validate_email(typed, check_deliverability=False,
                               allow_smtputf8=False).ascii_email
    return typed.lower() or "-"


def article_slug() -> str:
    return str((request.view_args or {}).get("slug", ""))[:200] or "-"


def try_again_at(limit: RequestLimit) -> str:
    """When the limit lets the next one through, in words: "at 17:32 UTC" (or with the date
    when that is not today)."""
    at = datetime.fromtimestamp(limit.reset_at, UTC)
    now = datetime.now(UTC)
    if at.date() == now.date():
        return f"at {at:%H:%M} UTC"
    return f"on {at:%d %B %Y} at {at:%H:%M} UTC"


def form_limits(on_breach: Callable[[str], Callable[[RequestLimit], Response]]
                ) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """The request form's three limits, counted on accepted submissions. `on_breach(reason)`
    makes the callback that answers a refusal (the view's form, kept filled in)."""
    by_address = limiter.limit(
        _setting("REPUBLISH_RATE_LIMIT"), methods=["POST"], deduct_when=_was_accepted,
        on_breach=on_breach("from your address"))
    by_email = limiter.limit(
        _setting("REPUBLISH_RATE_LIMIT_EMAIL"), key_func=submitted_email, scope="republish-email",
        methods=["POST"], deduct_when=_was_accepted,
        on_breach=on_breach("for this e-mail address"))
    by_article = limiter.limit(
        _setting("REPUBLISH_RATE_LIMIT_ARTICLE"), key_func=article_slug,
        scope="republish-article", methods=["POST"], deduct_when=_was_accepted,
        on_breach=on_breach("for this article"))

    def decorate(view: Callable[..., object]) -> Callable[..., object]:
        return by_address(by_email(by_article(view)))  # type: ignore[no-any-return]

    return decorate


def _too_many_misses(limit: RequestLimit) -> Response:
    body, status = render_error(
        429, "Too many links to requests that do not exist were opened from your address. "
             f"You can try again {try_again_at(limit)}. If you have lost the link to your "
             f"request, ask for a new one at {url_for('public.lost_link', _external=True)}.")
    return make_response(body, status)


#: every /requests/<token>/... view: misses counted per client address, in one shared scope
token_misses = limiter.shared_limit(
    _setting("STATUS_TOKEN_RATE_LIMIT"), scope="status-token", key_func=get_remote_address,
    deduct_when=_was_missed, on_breach=_too_many_misses)

def _too_many_new_links(limit: RequestLimit) -> Response:
    body, status = render_error(
        429, "New links were asked for too often from your address. You can ask again "
             f"{try_again_at(limit)}; the links sent so far still work.")
    return make_response(body, status)


#: "send me a new link" and "lost your link?": every submission counts (each may send mail)
new_link_requests = limiter.shared_limit(
    _setting("NEW_LINK_RATE_LIMIT"), scope="new-link", key_func=get_remote_address,
    methods=["POST"], on_breach=_too_many_new_links)


def _no_check_code() -> bool:
    """A visit without a check code (the page that says how to verify) is neither counted
    nor refused: it reveals nothing."""
    return not request.args.get("code", "").strip()


def licence_number() -> str:
    """The licence number in the address, as the per-licence limit counts it (a number never
    issued is counted like a real one, so the limit reveals nothing)."""
    return str((request.view_args or {}).get("number", ""))[:40] or "-"


def _too_many_wrong_codes(reason: str) -> Callable[[RequestLimit], Response]:
    def answer(limit: RequestLimit) -> Response:
        message = (f"Too many wrong check codes were tried {reason}. You can try again "
                   f"{try_again_at(limit)}.")
        if request.path.endswith(".json"):
            response = jsonify({"error": "too many attempts", "detail": message,
                                "retry_at": datetime.fromtimestamp(limit.reset_at, UTC)
                                .isoformat()})
            response.status_code = 429
            response.headers["Access-Control-Allow-Origin"] = "*"
        else:
            body, status = render_error(429, message)
            response = make_response(body, status)
        # The address may carry the right code: not sent on, not kept. (Retry-After is added
        # by Flask-Limiter: the rest of the breached window.)
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    return answer


# The licence verification page and its JSON: wrong check codes, in shared scopes (the page
# and the .json count together). The limits are tested before the view runs, so once over
# one, *every* request with a code is refused, a right one too: if a right code still got its
# answer, a guesser would simply go on guessing through the 429s and know the right code by
# the 200, and the limit would stop nothing. The price is that the licensee (or whoever checks
# the licence) is refused while the limit lasts:
# - per client address, that is only the guesser's own address (and whoever shares it);
# - per licence number, a stranger could refuse everyone the check of one licence. Its
#   window is kept short (LICENCE_CHECK_RATE_LIMIT_NUMBER, a minute), so the refusal ends a
#   minute after the guessing stops, and its allowance is above one address's own per-minute
#   allowance (LICENCE_CHECK_RATE_LIMIT), so that no single address can bring it about.
#: per client address
check_code_misses = limiter.shared_limit(
    _setting("LICENCE_CHECK_RATE_LIMIT"), scope="licence-check", key_func=get_remote_address,
    exempt_when=_no_check_code, deduct_when=_code_was_wrong,
    on_breach=_too_many_wrong_codes("from your address"))
#: per licence number, whatever the address
check_code_misses_by_number = limiter.shared_limit(
    _setting("LICENCE_CHECK_RATE_LIMIT_NUMBER"), scope="licence-check-number",
    key_func=licence_number, exempt_when=_no_check_code, deduct_when=_code_was_wrong,
    on_breach=_too_many_wrong_codes("for this licence number"))


def check_code_limits(view: Callable[..., object]) -> Callable[..., object]:
    """Both limits on wrong check codes, for /licences/<number> and its .json."""
    return check_code_misses(check_code_misses_by_number(view))


def spend_quietly(setting: str, scope: str, key: str) -> bool:
    """Count one use of a limit that is not tied to a view (the fresh-link e-mails per
    requester address): True while within it. Its caller answers the same either way, so the
    limit reveals nothing. A store that cannot be reached lets it through, as
    RATELIMIT_SWALLOW_ERRORS does for the others."""
    try:
        items = parse_many(str(current_app.config[setting]))
        return all([limiter.limiter.hit(item, scope, key) for item in items])
    except Exception:  # noqa: BLE001 (Redis down must not take the page down)
        log.exception("rate-limit store unavailable; %s not counted", scope)
        return True
