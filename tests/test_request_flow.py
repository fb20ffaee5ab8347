"""The review side end to end through the real pages: staff quote, decide and ask; the
requester accepts, declines, answers or withdraws; each step is audited and e-mailed."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.licensing.models import (
    AuditEvent,
    DeclineTemplate,
    MessageKind,
    Quote,
    QuoteStatus,
    RepublishRequest,
    RequestMessage,
)
from portal.licensing.ratecard import current_rate_card, seed_default_rate_card
from portal.notifications.models import OutboxEmail
from portal.staff.models import StaffRole
from tests.factories import form_answers, make_article
from tests.staff_fixtures import StaffLogin, page_csrf_token
from tests.test_request_form import FORM_URL, csrf_token

TOMORROW = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
IN_A_MONTH = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


@pytest.fixture
def rate_card(db: Session) -> None:
    seed_default_rate_card(db, "GBP")
    db.commit()


@pytest.fixture
def requester(app: Flask, db: Session, rate_card: None) -> "Requester":
    make_article(db)
    return Requester(app.test_client())


class Requester:
    """The requester's browser: sends the form and acts on the status page."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        response = client.post(FORM_URL, data={**form_answers(language="original",
                                                              translation_language=""),
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 303
        self.url = response.headers["Location"]

    def page(self) -> str:
        return self.client.get(self.url).get_data(as_text=True)

    def post(self, action: str, **data: object):
        token = csrf_token(self.client)  # one token per browser session, whatever the form
        return self.client.post(f"{self.url}/{action}", data={**data, "csrf_token": token})


def reference(db: Session) -> str:
    db.expire_all()
    return db.scalars(select(RepublishRequest.reference)).one()


def request_row(db: Session) -> RepublishRequest:
    db.expire_all()
    return db.scalars(select(RepublishRequest)).one()


def staff_post(client: FlaskClient, db: Session, action: str, **data: object):
    ref = reference(db)
    page_url = f"/staff/requests/{ref}"
    token = page_csrf_token(client, page_url)
    version = data.pop("version", request_row(db).version)
    return client.post(f"{page_url}/{action}", data={"csrf_token": token, "version": version,
                                                     **data})


def mails(db: Session, template: str) -> list[OutboxEmail]:
    db.expire_all()
    return list(db.scalars(select(OutboxEmail).where(OutboxEmail.template == template)))


def actions(db: Session) -> list[tuple[str, str | None, str]]:
    db.expire_all()
    return [(e.action, e.from_state, e.to_state)
            for e in db.scalars(select(AuditEvent).where(AuditEvent.subject == "request")
                                .order_by(AuditEvent.id))]


def suggested_amount(client: FlaskClient, db: Session) -> str:
    page = client.get(f"/staff/requests/{reference(db)}").get_data(as_text=True)
    match = re.search(r'id="amount"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*id="amount"', page)
    assert match, "the quote form is filled with the rate card's suggestion"
    return match.group(1) or match.group(2)


def test_quote_then_accept(client: FlaskClient, db: Session, requester: Requester,
                           staff_login: StaffLogin) -> None:
    staff = staff_login(StaffRole.LICENSING)
    detail = client.get(f"/staff/requests/{reference(db)}").get_data(as_text=True)
    assert "Suggested fee" in detail and "Base fee" in detail

    amount = suggested_amount(client, db)
    response = staff_post(client, db, "quote", amount=amount, currency="GBP",
                          valid_until=IN_A_MONTH)
    assert response.status_code == 303
    quote = db.scalars(select(Quote)).one()
    assert (quote.version, quote.status, quote.currency) == (1, QuoteStatus.OPEN, "GBP")
    assert quote.created_by == staff.actor and quote.override_reason is None
    assert quote.breakdown and quote.breakdown[0][0].startswith("Base fee")
    assert len(mails(db, "quote_ready")) == 1

    page = requester.page()
    assert "Your quote" in page and str(quote.fee) in page and "Base fee" in page
    response = requester.post("accept", quote_version=1)
    assert response.status_code == 303
    row = request_row(db)
    assert row.state == "awaiting_payment"
    assert db.get(Quote, quote.id).status == QuoteStatus.ACCEPTED
    assert len(mails(db, "quote_accepted")) == 1
    assert any("accepted the quote" in m.subject for m in mails(db, "staff_update"))
    assert actions(db) == [("submit", None, "submitted"), ("quote", "submitted", "quoted"),
                           ("accept", "quoted", "awaiting_payment")]


def test_another_amount_needs_a_reason(client: FlaskClient, db: Session, requester: Requester,
                                       staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    response = staff_post(client, db, "quote", amount="1.00", currency="GBP",
                          valid_until=IN_A_MONTH)
    assert response.status_code == 422
    assert "give a reason" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Quote)) == 0
    response = staff_post(client, db, "quote", amount="1.00", currency="GBP",
                          valid_until=IN_A_MONTH, override_reason="Student paper, token fee")
    assert response.status_code == 303
    quote = db.scalars(select(Quote)).one()
    assert (quote.amount_minor, quote.override_reason) == (100, "Student paper, token fee")
    assert quote.suggested_minor and quote.suggested_minor != 100


@pytest.mark.parametrize(("amount", "currency", "valid_until", "message"), [
    ("0", "GBP", IN_A_MONTH, "more than zero"),
    ("-5", "GBP", IN_A_MONTH, "as a number"),
    ("99999999999", "GBP", IN_A_MONTH, "check the amount"),
    ("12.345", "GBP", IN_A_MONTH, "at most 2 decimal places"),
    ("1,250.50", "GBP", IN_A_MONTH, "as a number"),
    ("<b>5</b>", "GBP", IN_A_MONTH, "as a number"),
    ("100", "XYZ", IN_A_MONTH, "Not a valid choice"),
    ("100", "GBP", "2020-01-01", "must end in the future"),
    ("100", "GBP", "2999-01-01", "at most 180 days"),
    ("100", "GBP", "next week", "Please give a date"),
])
def test_bad_quotes_are_refused_and_change_nothing(
    client: FlaskClient, db: Session, requester: Requester, staff_login: StaffLogin,
    amount: str, currency: str, valid_until: str, message: str,
) -> None:
    staff_login(StaffRole.LICENSING)
    response = staff_post(client, db, "quote", amount=amount, currency=currency,
                          valid_until=valid_until, override_reason="testing")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert request_row(db).state == "submitted"
    assert db.scalar(select(func.count()).select_from(Quote)) == 0
    assert mails(db, "quote_ready") == []


def test_requote_supersedes_and_the_old_quote_cannot_be_accepted(
    client: FlaskClient, db: Session, requester: Requester, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.LICENSING)
    amount = suggested_amount(client, db)
    assert staff_post(client, db, "quote", amount=amount, currency="GBP",
                      valid_until=IN_A_MONTH).status_code == 303
    assert staff_post(client, db, "quote", amount="999", currency="GBP", valid_until=IN_A_MONTH,
                      override_reason="Larger audience than stated").status_code == 303
    statuses = [(q.version, q.status) for q in db.scalars(select(Quote).order_by(Quote.version))]
    assert statuses == [(1, QuoteStatus.SUPERSEDED), (2, QuoteStatus.OPEN)]
    response = requester.post("accept", quote_version=1)  # the page they had open
    assert response.status_code == 409
    assert "changed while you were looking" in response.get_data(as_text=True)
    assert request_row(db).state == "quoted"
    assert requester.post("accept", quote_version=2).status_code == 303


def test_decline_with_a_template_reason(client: FlaskClient, db: Session, requester: Requester,
                                        staff_login: StaffLogin) -> None:
    db.add(DeclineTemplate(title="Exclusive", body="We have licensed this piece exclusively."))
    db.commit()
    staff_login(StaffRole.LICENSING)
    response = staff_post(client, db, "decline", template="Exclusive",
                          reason="Try our piece on the same topic.")
    assert response.status_code == 303
    assert request_row(db).state == "declined"
    [mail] = mails(db, "declined")
    assert "We have licensed this piece exclusively." in mail.text_body
    assert "Try our piece on the same topic." in mail.text_body
    page = requester.page()
    assert "licensed this piece exclusively" in page and "cannot grant" in page
    assert "Accept the quote" not in page and "Withdraw this request" not in page


def test_decline_needs_a_reason(client: FlaskClient, db: Session, requester: Requester,
                                staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    response = staff_post(client, db, "decline", template="", reason="")
    assert response.status_code == 422
    assert "choose a reason or write one" in response.get_data(as_text=True)
    assert request_row(db).state == "submitted"


def test_question_and_answer(client: FlaskClient, db: Session, requester: Requester,
                             staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    assert staff_post(client, db, "request-info",
                      question="What is the print run?").status_code == 303
    assert request_row(db).state == "info_requested"
    [mail] = mails(db, "info_requested")
    assert "What is the print run?" in mail.text_body
    assert "What is the print run?" in requester.page()

    assert requester.post("answer", body="").status_code == 422
    assert requester.post("answer", body="About 12,000 copies.").status_code == 303
    assert request_row(db).state == "submitted"
    staff_mail = [m for m in mails(db, "staff_update") if "answered" in m.subject]
    assert staff_mail and "About 12,000 copies." in staff_mail[0].text_body
    kinds = [m.kind for m in db.scalars(select(RequestMessage).order_by(RequestMessage.id))]
    assert kinds == [MessageKind.QUESTION, MessageKind.ANSWER]


def test_internal_notes_stay_internal(client: FlaskClient, db: Session, requester: Requester,
                                      staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    assert staff_post(client, db, "note", body="Known partner; be generous.").status_code == 303
    assert "Known partner" in client.get(f"/staff/requests/{reference(db)}").get_data(as_text=True)
    assert "Known partner" not in requester.page()
    assert request_row(db).state == "submitted"


def test_approve_free(client: FlaskClient, db: Session, requester: Requester,
                      staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    assert staff_post(client, db, "approve-free", note="For your students.").status_code == 303
    assert request_row(db).state == "licensed"
    [mail] = mails(db, "approved_free")
    assert "For your students." in mail.text_body
    assert "approved free of charge" in requester.page()


def test_requester_declines_the_quote(client: FlaskClient, db: Session, requester: Requester,
                                      staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    staff_post(client, db, "quote", amount=suggested_amount(client, db), currency="GBP",
               valid_until=IN_A_MONTH)
    assert requester.post("decline-quote", message="Over our budget.",
                          quote_version=1).status_code == 303
    assert request_row(db).state == "withdrawn"
    assert db.scalars(select(Quote)).one().status == QuoteStatus.DECLINED
    assert any("declined the quote" in m.subject for m in mails(db, "staff_update"))


def test_requester_withdraws(db: Session, requester: Requester) -> None:
    assert requester.post("withdraw", message="Plans changed.").status_code == 303
    assert request_row(db).state == "withdrawn"
    assert requester.post("withdraw").status_code == 409  # nothing left to withdraw


def test_actions_in_the_wrong_state_are_409(client: FlaskClient, db: Session,
                                            requester: Requester,
                                            staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    response = requester.post("accept", quote_version=1)
    assert response.status_code == 409
    staff_post(client, db, "decline", reason="No.")
    response = staff_post(client, db, "quote", amount="100", currency="GBP",
                          valid_until=IN_A_MONTH, override_reason="x")
    assert response.status_code == 409
    assert "You cannot quote a request that is declined" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Quote)) == 0


def test_a_stale_page_cannot_overwrite_a_colleagues_decision(
    app: Flask, client: FlaskClient, db: Session, requester: Requester, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.LICENSING)
    colleague = app.test_client()
    staff_login(StaffRole.LICENSING, client=colleague)
    seen_version = request_row(db).version
    # the colleague asks a question first...
    assert staff_post(colleague, db, "request-info", question="Which issue?",
                      version=seen_version).status_code == 303
    # ...so our page, still showing the old version, must not decline on top of it
    response = staff_post(client, db, "decline", reason="Too late", version=seen_version)
    assert response.status_code == 409
    assert "Reload the page" in response.get_data(as_text=True)
    assert request_row(db).state == "info_requested"


def test_concurrent_decisions_exactly_one_wins(app: Flask, db: Session,
                                               requester: Requester) -> None:
    """Two transactions load the same version and both decide: the version column lets one
    commit and makes the other fail, on SQLite and PostgreSQL alike."""
    from sqlalchemy.orm.exc import StaleDataError

    from portal.licensing import services

    request_id = request_row(db).id
    sessions = app.extensions["portal.db"].sessionmaker
    with app.app_context():
        first, second = sessions(), sessions()
        mine, theirs = first.get(RepublishRequest, request_id), second.get(RepublishRequest,
                                                                           request_id)
        services.decline(first, mine, actor="staff:1", reason="No")
        first.commit()
        with pytest.raises(StaleDataError):  # at the first flush of the stale row
            services.request_info(second, theirs, actor="staff:2", question="Which issue?")
            second.commit()
        second.rollback()
        first.close()
        second.close()
    assert request_row(db).state == "declined"
    assert [a[0] for a in actions(db)] == ["submit", "decline"]


def test_expired_quotes(client: FlaskClient, runner: FlaskCliRunner, db: Session,
                        requester: Requester, staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    staff_post(client, db, "quote", amount=suggested_amount(client, db), currency="GBP",
               valid_until=TOMORROW)
    quote = db.scalars(select(Quote)).one()
    quote.valid_until = datetime.now(UTC) - timedelta(minutes=1)
    db.commit()
    result = runner.invoke(args=["requests", "expire"])
    assert result.exit_code == 0, result.output
    assert "Expired 1 quote." in result.output
    assert request_row(db).state == "expired"
    assert len(mails(db, "quote_expired")) == 1
    assert runner.invoke(args=["requests", "expire"]).output.strip() == "Expired 0 quotes."
    # staff may quote again
    assert staff_post(client, db, "quote", amount="80", currency="GBP", valid_until=IN_A_MONTH,
                      override_reason="New quote after expiry").status_code == 303
    assert request_row(db).state == "quoted"


def test_auto_quote_inside_the_bounds(app: Flask, db: Session, rate_card: None) -> None:
    card = current_rate_card(db)
    card.autoquote_enabled = True
    card.autoquote_max_minor = 10_000_00
    db.commit()
    make_article(db)
    requester = Requester(app.test_client())
    row = request_row(db)
    assert row.state == "quoted"
    quote = db.scalars(select(Quote)).one()
    assert quote.created_by == "system"
    assert ("quote", "submitted", "quoted") in actions(db)
    assert "Your quote" in requester.page()


def test_viewer_reads_but_cannot_decide(client: FlaskClient, db: Session, requester: Requester,
                                        staff_login: StaffLogin) -> None:
    staff_login(StaffRole.VIEWER)
    page = client.get(f"/staff/requests/{reference(db)}").get_data(as_text=True)
    assert reference(db) in page and "Send quote" not in page
    response = staff_post(client, db, "approve-free")
    assert response.status_code == 403
    assert request_row(db).state == "submitted"


def test_a_forged_csrf_token_changes_nothing(client: FlaskClient, db: Session,
                                             requester: Requester,
                                             staff_login: StaffLogin) -> None:
    staff_login(StaffRole.LICENSING)
    response = client.post(f"/staff/requests/{reference(db)}/approve-free",
                           data={"csrf_token": "forged", "version": request_row(db).version})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert request_row(db).state == "submitted"
    response = requester.client.post(f"{requester.url}/withdraw", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert request_row(db).state == "submitted"


def test_requote_and_accept_at_the_same_moment_exactly_one_wins(
    app: Flask, client: FlaskClient, db: Session, requester: Requester, staff_login: StaffLogin
) -> None:
    """A re-quote leaves the state as it was, yet it must still conflict with an accept
    that read the request before it."""
    from sqlalchemy.orm.exc import StaleDataError

    from portal.licensing import services
    from portal.money import Money

    staff_login(StaffRole.LICENSING)
    staff_post(client, db, "quote", amount=suggested_amount(client, db), currency="GBP",
               valid_until=IN_A_MONTH)
    request_id = request_row(db).id
    sessions = app.extensions["portal.db"].sessionmaker
    with app.app_context():
        staff_side, requester_side = sessions(), sessions()
        staff_copy = staff_side.get(RepublishRequest, request_id)
        requester_copy = requester_side.get(RepublishRequest, request_id)
        _ = staff_copy.quotes, requester_copy.quotes  # both have read the open quote 1
        offer = services.QuoteInput(fee=Money(99900, "GBP"),
                                    valid_until=datetime.now(UTC) + timedelta(days=5),
                                    override_reason="Bigger audience")
        services.quote(staff_side, staff_copy, offer, actor="staff:1",
                       currencies=app.config["CURRENCIES"])
        staff_side.commit()
        with pytest.raises(StaleDataError):
            services.accept_quote(requester_side, requester_copy, quote_version=1)
            requester_side.commit()
        requester_side.rollback()
        staff_side.close()
        requester_side.close()
    assert request_row(db).state == "quoted"
    statuses = [q.status for q in db.scalars(select(Quote).order_by(Quote.version))]
    assert statuses == [QuoteStatus.SUPERSEDED, QuoteStatus.OPEN]


def test_declining_from_a_stale_page_does_not_decline_a_newer_quote(
    client: FlaskClient, db: Session, requester: Requester, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.LICENSING)
    staff_post(client, db, "quote", amount="900", currency="GBP", valid_until=IN_A_MONTH,
               override_reason="Large audience")
    staff_post(client, db, "quote", amount="100", currency="GBP", valid_until=IN_A_MONTH,
               override_reason="Reconsidered")
    response = requester.post("decline-quote", quote_version=1)  # the £900 page
    assert response.status_code == 409
    assert request_row(db).state == "quoted"
    assert [q.status for q in db.scalars(select(Quote).order_by(Quote.version))] == [
        QuoteStatus.SUPERSEDED, QuoteStatus.OPEN]


def test_an_overridden_fee_carries_no_breakdown_that_contradicts_it(
    client: FlaskClient, db: Session, requester: Requester, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.LICENSING)
    staff_post(client, db, "quote", amount="999", currency="EUR", valid_until=IN_A_MONTH,
               override_reason="Paid in euros")
    quote = db.scalars(select(Quote)).one()
    assert quote.breakdown is None
    assert "Rounded to" not in requester.page()


def test_an_ambiguous_thousands_separator_is_refused(
    client: FlaskClient, db: Session, requester: Requester, staff_login: StaffLogin
) -> None:
    staff_login(StaffRole.LICENSING)
    response = staff_post(client, db, "quote", amount="1,250", currency="GBP",
                          valid_until=IN_A_MONTH, override_reason="x")
    assert response.status_code == 422
    assert "without a thousands separator" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Quote)) == 0


def test_auto_quote_that_cannot_be_made_leaves_the_request_for_staff(
    app: Flask, db: Session, rate_card: None
) -> None:
    from portal.licensing.ratecard import RateFactor

    card = current_rate_card(db)
    card.autoquote_enabled, card.minimum_minor = True, 0
    for rate in db.scalars(select(RateFactor).where(RateFactor.dimension == "medium")):
        rate.value = 0  # every suggestion is zero, which no quote may be
    db.commit()
    make_article(db)
    Requester(app.test_client())
    assert request_row(db).state == "submitted"
    assert db.scalar(select(func.count()).select_from(Quote)) == 0


def test_expiry_skips_a_request_that_changed_meanwhile(app: Flask, client: FlaskClient,
                                                     db: Session, requester: Requester,
                                                     staff_login: StaffLogin) -> None:
    from portal.licensing import services

    staff_login(StaffRole.LICENSING)
    staff_post(client, db, "quote", amount=suggested_amount(client, db), currency="GBP",
               valid_until=TOMORROW)
    quote = db.scalars(select(Quote)).one()
    quote.valid_until = datetime.now(UTC) - timedelta(minutes=1)
    db.commit()
    with app.app_context():
        job = app.extensions["portal.db"].sessionmaker()
        due = job.scalars(select(RepublishRequest)).all()  # the job has read the request...
        _ = due[0].quotes
        # ...when the requester's change lands first
        other = app.extensions["portal.db"].sessionmaker()
        other.get(RepublishRequest, due[0].id).updated_at = datetime.now(UTC)
        other.commit()
        other.close()
        assert services.expire_quotes(job) == []
        job.commit()
        job.close()
    assert request_row(db).state == "quoted"
