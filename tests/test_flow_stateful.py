"""A stateful Hypothesis test of the request flow, driven through the real pages.

Hypothesis submits requests and, in any order, has staff quote, re-quote, approve free,
decline and ask, the requester accept, pay (demo provider), decline the quote, answer and
withdraw, and time expire quotes. A shadow model follows the transitions table; after every step the
database must agree with it, and the rules that never bend must hold.
"""

import itertools
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import func, select, update

import portal.models  # noqa: F401
from portal.licences.models import Licence
from portal.licensing.lifecycle import TRANSITIONS, Action, RequestState
from portal.licensing.models import AuditEvent, Quote, QuoteStatus, RepublishRequest
from portal.licensing.ratecard import seed_default_rate_card
from portal.notifications.models import OutboxEmail
from portal.payments.models import Payment, PaymentStatus
from portal.staff.models import StaffRole
from tests.conftest import make_app, sqlite_copy
from tests.factories import form_answers, make_article
from tests.staff_fixtures import make_staff, sign_in

IN_A_MONTH = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
FORM_URL = "/articles/harbour-wind/republish"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Handle:
    """What the test knows of one request: its status URL, reference and expected state."""

    def __init__(self, url: str, reference: str) -> None:
        self.url, self.reference = url, reference
        self.state: RequestState = RequestState.SUBMITTED
        self.quotes = 0
        self.events = 1

    def __repr__(self) -> str:
        return f"Handle({self.reference}, {self.state.value})"


class RequestFlow(RuleBasedStateMachine):
    requests = Bundle("requests")
    #: the worker's empty database with every table (set by the fixture below)
    template: Path

    @initialize()
    def start(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        tmp = Path(self.folder.name)
        self.app = make_app(tmp, sqlite_copy(self.template, tmp, "flow.sqlite3"))
        self.engine = self.app.extensions["portal.db"].engine
        self.db = self.app.extensions["portal.db"].sessionmaker()
        make_article(self.db)
        seed_default_rate_card(self.db, "GBP")
        self.db.commit()
        staff = make_staff(self.db, role=StaffRole.LICENSING)
        self.staff = self.app.test_client()
        assert sign_in(self.staff, staff.email).status_code == 303
        self.requester = self.app.test_client()
        self.token = self._csrf(self.requester, FORM_URL)
        self.staff_token = self._csrf(self.staff, "/staff/")
        self.handles: list[Handle] = []

    def teardown(self) -> None:
        if hasattr(self, "db"):
            self.db.close()
            self.engine.dispose()
            self.folder.cleanup()

    @staticmethod
    def _csrf(client, url: str) -> str:
        page = client.get(url).get_data(as_text=True)
        match = CSRF.search(page) or re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, url
        return match.group(1)

    # -- helpers --------------------------------------------------------------------------

    def _expect(self, handle: Handle, action: Action, status: int) -> None:
        """Check the answer against the table, and move the shadow model on."""
        after = TRANSITIONS.get((handle.state, action))
        if after is None:
            assert status == 409, (handle, action, status)
        else:
            assert status == 303, (handle, action, status)
            handle.state = after
            handle.events += 1

    def _row(self, handle: Handle) -> RepublishRequest:
        self.db.expire_all()
        return self.db.scalars(
            select(RepublishRequest).where(RepublishRequest.reference == handle.reference)
        ).one()

    def _staff(self, handle: Handle, action: str, **data: object) -> int:
        version = self._row(handle).version
        response = self.staff.post(f"/staff/requests/{handle.reference}/{action}",
                                   data={"csrf_token": self.staff_token, "version": version,
                                         **data})
        return response.status_code

    def _requester(self, handle: Handle, action: str, **data: object) -> int:
        response = self.requester.post(f"{handle.url}/{action}",
                                       data={"csrf_token": self.token, **data})
        return response.status_code

    # -- rules ----------------------------------------------------------------------------

    @rule(target=requests)
    def submit(self) -> Handle:
        response = self.requester.post(FORM_URL, data={**form_answers(),
                                                       "csrf_token": self.token})
        assert response.status_code == 303
        url = response.headers["Location"]
        page = self.requester.get(url).get_data(as_text=True)
        reference = re.search(r"RR-\d{4}-\d{5}", page).group(0)
        handle = Handle(url, reference)
        self.handles.append(handle)
        return handle

    @rule(target=requests, amount=st.integers(min_value=1, max_value=5000))
    def submit_and_quote(self, amount: int) -> Handle:
        """A request that staff quote at once (so that paths past the quote get explored)."""
        handle = self.submit()
        self.quote(handle, amount)
        return handle

    @rule(handle=requests, amount=st.integers(min_value=1, max_value=5000))
    def quote(self, handle: Handle, amount: int) -> None:
        status = self._staff(handle, "quote", amount=str(amount), currency="GBP",
                             valid_until=IN_A_MONTH, override_reason="stateful test")
        before = handle.state
        self._expect(handle, Action.QUOTE, status)
        if status == 303:
            handle.quotes += 1
            assert before in (RequestState.SUBMITTED, RequestState.QUOTED, RequestState.EXPIRED,
                              RequestState.AWAITING_PAYMENT)

    @rule(handle=requests)
    def approve_free(self, handle: Handle) -> None:
        self._expect(handle, Action.APPROVE_FREE, self._staff(handle, "approve-free"))

    @rule(handle=requests)
    def decline(self, handle: Handle) -> None:
        self._expect(handle, Action.DECLINE, self._staff(handle, "decline", reason="No."))

    @rule(handle=requests)
    def ask(self, handle: Handle) -> None:
        self._expect(handle, Action.REQUEST_INFO,
                     self._staff(handle, "request-info", question="Which edition?"))

    @rule(handle=requests)
    def answer(self, handle: Handle) -> None:
        self._expect(handle, Action.ANSWER, self._requester(handle, "answer", body="Sunday."))

    @rule(handle=requests)
    def accept(self, handle: Handle) -> None:
        self._expect(handle, Action.ACCEPT,
                     self._requester(handle, "accept", quote_version=handle.quotes))

    @rule(handle=requests)
    def accept_and_pay(self, handle: Handle) -> None:
        """What most buyers do: accept the quote and pay at once."""
        self.accept(handle)
        self.pay(handle)

    @rule(handle=requests)
    def pay(self, handle: Handle) -> None:
        """The buyer pays on the demo provider's test page (or finds nothing to pay)."""
        row = self._row(handle)
        open_payment = self.db.scalar(select(Payment).where(
            Payment.request_id == row.id, Payment.status == PaymentStatus.OPEN))
        if handle.state != RequestState.AWAITING_PAYMENT:
            assert open_payment is None, handle
            assert self._requester(handle, "pay") == 409, handle
            return
        assert open_payment is not None, handle
        token = handle.url.rsplit("/", 1)[1]
        response = self.requester.post(f"/payments/demo/{open_payment.provider_ref}/pay",
                                       data={"csrf_token": self.token, "back": token})
        assert response.status_code == 303
        assert self.requester.get(response.headers["Location"]).status_code == 303
        self._expect(handle, Action.CONFIRM_PAYMENT, 303)

    @rule(handle=requests)
    def decline_quote(self, handle: Handle) -> None:
        self._expect(handle, Action.DECLINE_QUOTE,
                     self._requester(handle, "decline-quote", quote_version=handle.quotes))

    @rule(handle=requests)
    def withdraw(self, handle: Handle) -> None:
        self._expect(handle, Action.WITHDRAW, self._requester(handle, "withdraw"))

    @rule(handle=requests)
    def time_passes(self, handle: Handle) -> None:
        """The open quote of this request runs out, and the cron job runs."""
        self.db.execute(update(Quote).where(
            Quote.request_id == self._row(handle).id, Quote.status == QuoteStatus.OPEN,
        ).values(valid_until=datetime.now(UTC) - timedelta(seconds=1)))
        self.db.commit()
        result = self.app.test_cli_runner().invoke(args=["requests", "expire"])
        assert result.exit_code == 0, result.output
        if handle.state == RequestState.QUOTED:
            handle.state = RequestState.EXPIRED
            handle.events += 1

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        if not hasattr(self, "db"):
            return
        self.db.expire_all()
        for row in self.db.scalars(select(RepublishRequest)):
            quotes = list(self.db.scalars(
                select(Quote).where(Quote.request_id == row.id).order_by(Quote.version)))
            # versions are 1..n, and at most one quote is open, only while quoted
            assert [q.version for q in quotes] == list(range(1, len(quotes) + 1))
            open_quotes = [q for q in quotes if q.status == QuoteStatus.OPEN]
            assert len(open_quotes) == (1 if row.state == RequestState.QUOTED else 0), row.state
            if row.state == RequestState.AWAITING_PAYMENT:
                assert quotes[-1].status == QuoteStatus.ACCEPTED
            # every state change is in the audit log, and the log ends in the current state
            events = list(self.db.scalars(
                select(AuditEvent).where(AuditEvent.request_id == row.id,
                                         AuditEvent.subject == "request")
                .order_by(AuditEvent.id)))
            assert events[-1].to_state == row.state.value
            for earlier, later in itertools.pairwise(events):
                assert later.from_state == earlier.to_state

    @invariant()
    def licences_and_payments_follow_the_rules(self) -> None:
        """One licence per licensed request and none elsewhere; a licence's fee is what
        was paid for its quote; open checkouts only while a request awaits payment."""
        for handle in getattr(self, "handles", []):
            row = self._row(handle)
            licences = self.db.scalars(select(Licence).where(Licence.request_id == row.id)).all()
            assert len(licences) == (1 if row.state == RequestState.LICENSED else 0), handle
            rows = self.db.scalars(select(Payment).where(Payment.request_id == row.id)).all()
            open_rows = [p for p in rows if p.status == PaymentStatus.OPEN]
            assert len(open_rows) <= 1
            if open_rows:
                assert row.state == RequestState.AWAITING_PAYMENT, handle
            for licence in licences:
                if licence.payment_id is not None:
                    paid = self.db.get(Payment, licence.payment_id)
                    assert paid.paid_amount == paid.quote.fee == licence.fee

    @invariant()
    def no_status_token_rests_in_the_outbox(self) -> None:
        if not hasattr(self, "db"):
            return
        self.db.expire_all()
        bodies = self.db.scalars(select(OutboxEmail.text_body)).all()
        assert not any(re.search(r"/requests/[A-Za-z0-9_-]{20,}", body) for body in bodies)

    @invariant()
    def every_request_is_where_the_table_says(self) -> None:
        for handle in getattr(self, "handles", []):
            row = self._row(handle)
            assert row.state == handle.state, handle
            assert self.db.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.request_id == row.id, AuditEvent.subject == "request")
            ) == handle.events, handle


@pytest.fixture(autouse=True)
def _template(sqlite_template: Path) -> None:
    RequestFlow.template = sqlite_template


RequestFlow.TestCase.settings = settings(
    max_examples=12, stateful_step_count=14, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestRequestFlow = RequestFlow.TestCase
