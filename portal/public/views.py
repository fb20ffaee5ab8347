"""Public pages: the article catalogue, the request form, the requester's status page."""

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, or_, select
from werkzeug.wrappers import Response as BaseResponse

from portal import db as database
from portal.articles.models import Article
from portal.articles.urls import normalise_url
from portal.errors import render_error
from portal.extensions import limiter
from portal.licensing import services
from portal.licensing.forms import RepublishForm, default_start_date

bp = Blueprint("public", __name__)

PAGE_SIZE = 20


def _republish_limit() -> str:
    return str(current_app.config["REPUBLISH_RATE_LIMIT"])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _article_or_404(slug: str) -> Article:
    if len(slug) > 200:
        abort(404)
    article = database.session().scalar(select(Article).where(Article.slug == slug))
    if article is None:
        abort(404)
    return article


@bp.get("/")
def article_list() -> str:
    query = request.args.get("q", "", type=str).strip()[:200]
    page = max(1, min(request.args.get("page", 1, type=int), 10_000))
    stmt = select(Article)
    if query:
        like = "%" + _escape_like(query) + "%"
        stmt = stmt.where(
            or_(
                Article.title.ilike(like, escape="\\"),
                Article.summary.ilike(like, escape="\\"),
                Article.byline.ilike(like, escape="\\"),
            )
        )
    db = database.session()
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    articles = db.scalars(
        stmt.order_by(Article.published_at.desc().nulls_last(), Article.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    pages = max(1, -(-total // PAGE_SIZE))
    return render_template(
        "public/article_list.html", articles=articles, query=query, page=page, pages=pages,
        total=total,
    )


@bp.get("/articles/<slug>")
def article(slug: str) -> str:
    return render_template("public/article.html", article=_article_or_404(slug))


@bp.route("/articles/<slug>/republish", methods=["GET", "POST"])
@limiter.limit(_republish_limit, methods=["POST"])
def republish_form(slug: str) -> BaseResponse | tuple[str, int] | str:
    article = _article_or_404(slug)
    if not article.is_licensable:
        status = 409 if request.method == "POST" else 200
        return render_template("public/not_licensable.html", article=article), status
    form = RepublishForm()
    if request.method == "GET":
        form.start_date.data = default_start_date()
        return render_template("public/republish_form.html", article=article, form=form)
    if form.is_bot:
        return render_error(
            400, "Your request looked automated and was not sent. If you are a person, "
                 "leave the last field (\"Leave this field empty\") blank and send it again.")
    if not form.validate():
        return render_template("public/republish_form.html", article=article, form=form), 422
    db = database.session()
    req, token = services.submit_request(db, article, form.usage_details())
    db.commit()
    flash(f"Thank you. Your request {req.reference} has been received. We have sent a link to "
          f"this page to {req.requester_email}.", "success")
    return redirect(url_for("public.request_status", token=token), code=303)


@bp.get("/republish")
def republish_by_url() -> BaseResponse | tuple[str, int]:
    raw = request.args.get("url", "", type=str)
    if not raw.strip():
        return render_error(400, "This link needs the address of the article, as "
                                 "/republish?url=https://… . Search the articles instead.")
    key = normalise_url(raw)
    article = None
    if key is not None:
        article = database.session().scalar(select(Article).where(Article.url_key == key))
    if article is None:
        return render_template("public/unknown_url.html", url=raw[:500]), 404
    return redirect(url_for("public.republish_form", slug=article.slug), code=303)


@bp.get("/requests/<token>")
def request_status(token: str) -> str | Response:
    req = services.find_by_token(database.session(), token)
    if req is None:
        abort(404)
    response = Response(render_template("public/request_status.html", req=req))
    # The page is private to whoever holds the link.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, str], int]:
    try:
        database.database().ping()
    except Exception as error:  # any failure to reach the database means "not ready"
        current_app.logger.warning("readiness check failed: %s", error)
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "reachable"}, 200
