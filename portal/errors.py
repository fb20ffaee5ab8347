"""Error pages in the site's style: each says what happened and what to do next."""

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, render_template, request
from flask.globals import request_ctx
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from portal import security_events

MESSAGES = {
    400: ("This request could not be understood",
          "Something in what your browser sent was missing or malformed. Go back, check the "
          "page and try again."),
    403: ("You may not do that", "This page or action is not open to you."),
    404: ("Page not found",
          "We could not find what you were looking for. The link may be mistyped, or the "
          "page may have been removed. Search the articles, or start from the home page."),
    405: ("That action is not possible here",
          "This address does not accept that kind of request. Go back and use the page's "
          "own buttons and links."),
    409: ("This changed in the meantime",
          "Someone else changed this at the same time. Reload the page to see where it stands."),
    413: ("That was too much to send",
          "What you submitted is larger than the portal accepts. Shorten the longest fields "
          "(the message, for example) and try again."),
    422: ("Please check what you entered", "Some fields need your attention."),
    429: ("Too many attempts",
          "You have sent this too often in a short time. Wait a few minutes and try again."),
    500: ("Something went wrong on our side",
          "The portal failed to answer. Nothing you submitted was half-saved. Please try again "
          "in a moment; if it keeps happening, write to the licensing desk."),
    503: ("The portal is not available right now", "Please try again in a minute."),
}


def render_error(status: int, detail: str | None = None, *,
                 retry_url: str | None = None) -> tuple[str, int]:
    # Flask-Login loads the signed-in user for every template, from the database. An error
    # page shows nothing of the user, and must render when the database is down.
    if "_login_user" not in g:
        g._login_user = AnonymousUserMixin()
    title, advice = MESSAGES.get(status, MESSAGES[500] if status >= 500 else MESSAGES[400])
    # The back office's own pages answer in its own look (a 429 at sign-in, a 403). Server
    # errors keep the public page: it renders without the database, the back office's
    # layout may not.
    staff = request.path.startswith("/staff/") and status < 500
    return render_template(
        "staff/error.html" if staff else "errors/error.html", status=status, title=title,
        advice=advice, detail=detail, retry_url=retry_url,
    ), status


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul_bytes() -> tuple[str, int] | None:
        # No text column can hold U+0000 (PostgreSQL refuses it), and no address or search
        # needs one: answer 400 before it reaches a query. Form fields have their own check.
        if "\x00" in request.path or any("\x00" in value for value in request.args.values()):
            return render_error(400, "The address contains a character that is not allowed.")
        return None

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return render_error(
            400,
            "The form had expired or did not come from this site. Reload the form and send it "
            "again; what you typed may need to be entered again.",
        )

    @app.errorhandler(SecurityError)
    def untrusted_host(error: SecurityError) -> tuple[str, int]:
        # The Host header names none of TRUSTED_HOSTS (portal/config.py): Flask refused it
        # before binding URLs to the request, so the page's links are built for the portal's
        # own address, never for the host the request named.
        base = urlsplit(app.config["BASE_URL"])
        request_ctx.url_adapter = app.url_map.bind(
            base.netloc, script_name=request.script_root or "/", url_scheme=base.scheme)
        return render_error(
            400, "This address is not one the portal answers to. Use the link the publisher "
            "gave you.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | HTTPException | Response:
        if error.code is None or error.code < 400:
            return error
        if error.code == 429:  # a rate limit (Flask-Limiter's, or a view's) said no
            staff = request.path.startswith("/staff/")
            security_events.note("sign_in_throttled" if staff else "throttled",
                                 target=security_events.where(),
                                 detail=f"limit: {error.description}" if error.description else None)
        if error.response is not None:
            # A page of the view's own (a rate-limited form kept as it was typed).
            return error.response
        detail = None
        if error.code == 429:
            detail = f"Limit: {error.description}." if error.description else None
        elif error.code == 400 and error.description and not error.description.startswith(
            "The browser (or proxy)"
        ):
            detail = error.description
        return render_error(error.code, detail)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error: Exception) -> Response:
        """The database cannot be reached (down, restarting, out of connections): a 503 that
        says to try again, never a bare 500; machines (Stripe's webhook, JSON clients) get
        JSON and retry."""
        current_app.logger.error("database unavailable on %s %s: %s", request.method,
                                 request.path, str(error).splitlines()[0][:300])
        if request.path.startswith("/webhooks/") or request.path.endswith(".json") \
                or request.path in ("/healthz", "/readyz"):
            response = current_app.json.response(
                {"error": "The database is not available. Retry later."})
            response.status_code = 503
        else:
            # Sending a form again is the person's choice; reloading a page is harmless.
            sent = request.method not in ("GET", "HEAD")
            body, status = render_error(
                503, "Nothing you sent was saved." if sent else None,
                # (one leading slash: "//host/..." would lead to another site)
                retry_url=None if sent else "/" + request.full_path.rstrip("?").lstrip("/"))
            response = Response(body, status=status)
        response.headers["Retry-After"] = "60"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> tuple[str, int]:
        # Flask has logged the exception already, tokens masked (portal.logs.RedactSecrets).
        return render_error(500)
