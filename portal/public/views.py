"""Public pages: the article catalogue, the request form, the requester's status page."""


from collections.abc import Callable

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_limiter import RequestLimit
from sqlalchemy import func, or_, select
from werkzeug.wrappers import Response as BaseResponse

from portal import db as database
from portal import readiness
from portal.articles.models import Article
from portal.articles.preview import first_paragraph
from portal.articles.urls import normalise_url
from portal.db import escape_like, utcnow
from portal.errors import render_error
from portal.licensing import services
from portal.licensing.forms import (
    AcceptQuoteForm,
    AnswerForm,
    DeclineQuoteForm,
    NewLinkForm,
    RepublishForm,
    WithdrawForm,
    default_start_date,
)
from portal.licensing.models import RepublishRequest
from portal.payments.models import Payment
from portal.public import my_requests, throttle
from portal.public.requester import (
    link_expired_page,
    request_by_token_or_404,
    requester_acts,
    return_urls,
    status_page,
    unknown_link,
)
from portal.uow import unit_of_work
from portal.workflows import checkout, decisions

PAGE_SIZE = 20


def _form_refused(reason: str) -> Callable[[RequestLimit], Response]:
    """A submission over a limit: the form again, as it was typed, saying when it can be sent
    (429). Nothing is stored."""
    def answer(limit: RequestLimit) -> Response:
        article = _article_or_404(str((request.view_args or {}).get("slug", "")))
        message = (f"We cannot take more requests {reason} just now. What you typed is kept "
                   f"below: you can send it {throttle.try_again_at(limit)}.")
        return make_response(render_template("public/republish_form.html", article=article,
                                             form=RepublishForm(), throttled=message), 429)
    return answer


def _article_or_404(slug: str) -> Article:
    if len(slug) > 200:
        abort(404)
    article = database.session().scalar(select(Article).where(Article.slug == slug))
    # An embargoed article does not exist for the public until its time.
    if article is None or article.is_embargoed():
        abort(404)
    if article.is_withdrawn:
        # Neutral: the reason for a takedown is for staff only.
        abort(Response(render_template("public/article_withdrawn.html"), 410))
    return article


def article_list() -> str:
    query = request.args.get("q", "", type=str).strip()[:200]
    page = max(1, min(request.args.get("page", 1, type=int), 10_000))
    stmt = select(Article).where(Article.listed(utcnow()))
    if query:
        like = "%" + escape_like(query) + "%"
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


def article(slug: str) -> str:
    article = _article_or_404(slug)
    return render_template("public/article.html", article=article,
                           opening=first_paragraph(article.body_html))


@throttle.form_limits(_form_refused)
def republish_form(slug: str) -> BaseResponse | tuple[str, int] | str:
    article = _article_or_404(slug)
    if not article.is_licensable:
        status = 409 if request.method == "POST" else 200
        return render_template("public/not_licensable.html", article=article), status
    form = RepublishForm()
    if request.method != "POST":  # GET, and HEAD from link checkers
        form.start_date.data = default_start_date()
        my_requests.prefill(form)
        return render_template("public/republish_form.html", article=article, form=form)
    if form.is_bot:
        return render_error(
            400, "Your request looked automated and was not sent. If you are a person, "
                 "leave the last field (\"Leave this field empty\") blank and send it again.")
    if not form.validate():
        return render_template("public/republish_form.html", article=article, form=form), 422
    with unit_of_work() as db:
        req, token = services.submit_request(db, article, form.usage_details(),
                                             currencies=current_app.config["CURRENCIES"])
    throttle.mark_accepted()
    my_requests.remember(form.usage_details())
    flash(f"Thank you. Your request {req.reference} has been received. We have sent a link to "
          f"this page to {req.requester_email}.", "success")
    return redirect(url_for("public.request_status", token=token), code=303)


def republish_by_url() -> BaseResponse | tuple[str, int]:
    raw = request.args.get("url", "", type=str)
    if not raw.strip():
        return render_error(400, "This link needs the address of the article, as "
                                 "/republish?url=https://… . Search the articles instead.")
    key = normalise_url(raw)
    article = None
    if key is not None:
        article = database.session().scalar(select(Article).where(Article.url_key == key))
    if article is None or article.is_embargoed():
        return render_template("public/unknown_url.html", url=raw[:500]), 404
    return redirect(url_for("public.republish_form", slug=article.slug), code=303)




def new_link(token: str) -> Response:
    """"Send me a new link" on an expired link's page: a fresh link goes to the request's own
    address when the typed one matches it. The answer is the same whatever was typed."""
    found = services.match_token(database.session(), token, lifetime=None)
    if found is None:
        unknown_link()
    form = NewLinkForm()
    if not form.validate():
        return link_expired_page(token, form, status=422)
    _send_fresh_links(form.address(), [found.request])
    return link_expired_page(token, NewLinkForm(formdata=None), sent=True, status=200)


def lost_link() -> Response | tuple[str, int] | str:
    """"Lost your link?": a fresh link to every live request made with the typed address.
    The answer is the same whether or not there are any."""
    form = NewLinkForm()
    if request.method != "POST":
        return render_template("public/lost_link.html", form=form)
    if not form.validate():
        return render_template("public/lost_link.html", form=form), 422
    address = form.address()
    _send_fresh_links(address, services.live_requests_of(database.session(), address))
    return render_template("public/lost_link.html", form=NewLinkForm(formdata=None), sent=True)


def _send_fresh_links(address: str, requests: list[RepublishRequest]) -> None:
    mine = [req for req in requests if req.requester_email.lower() == address]
    # Counted per address, only when something would be sent: the page answers the same
    # either way, so the count reveals nothing about which addresses have requests.
    if not mine or not throttle.spend_quietly("NEW_LINK_EMAIL_LIMIT", "new-link-email", address):
        return
    with unit_of_work() as db:
        for req in mine:
            services.send_fresh_link(db, req, days=int(current_app.config["STATUS_TOKEN_DAYS"]))


def request_status(token: str) -> Response:
    return status_page(request_by_token_or_404(token))




def accept_quote(token: str) -> Response:
    """Accept and pay: the quote is accepted once the provider has made the checkout, so a
    provider that cannot be reached leaves the quote open, as it was."""
    form = AcceptQuoteForm()

    def accept_and_pay(req: RepublishRequest) -> Payment:
        return checkout.start_payment(database.session(), req.id, return_urls=return_urls,
                                      accept_version=form.quote_version.data)

    return requester_acts(token, "accept_form", form, accept_and_pay,
                           "Thank you: you accepted the quote. Your invoice is below.")


def decline_quote(token: str) -> Response:
    form = DeclineQuoteForm()
    return requester_acts(
        token, "decline_quote_form", form,
        lambda req: services.decline_quote(database.session(), req,
                                           quote_version=form.quote_version.data,
                                           message=form.message.data or None),
        "You declined the quote; your request is closed. Thank you for letting us know.")


def answer(token: str) -> Response:
    form = AnswerForm()
    return requester_acts(
        token, "answer_form", form,
        lambda req: services.answer(database.session(), req, body=form.body.data),
        "Thank you: your answer has been sent to the licensing desk.")


def withdraw(token: str) -> Response:
    form = WithdrawForm()
    return requester_acts(
        token, "withdraw_form", form,
        lambda req: decisions.withdraw(database.session(), req.id,
                                       message=form.message.data or None),
        "Your request has been withdrawn.")


def healthz() -> dict[str, str]:
    return {"status": "ok"}


def readyz() -> tuple[dict[str, object], int]:
    """For a load balancer: 503 while the database cannot be reached; otherwise 200, with
    what is degraded (Redis down, e-mail delayed) said in the body."""
    result = readiness.check(current_app._get_current_object())  # type: ignore[attr-defined]
    return result.report(), 200 if result.ready else 503
