"""The demo provider (a labelled test payment page, same confirmation path as Stripe), the
invoice provider (PDF, staff mark it paid), free licences, and payment windows running out."""

import io
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.licences.models import LicenceStatus
from portal.licensing.models import Quote, RepublishRequest
from portal.payments.models import DemoCheckout, Payment, PaymentStatus
from portal.payments.provider import ProviderError
from portal.payments.registry import Providers
from portal.staff.models import StaffRole
from tests.factories import make_request
from tests.payments_support import (
    Buyer,
    footprint,
    licences,
    mails_to,
    payments,
    quoted_request,
    state,
)
from tests.staff_fixtures import StaffLogin, page_csrf_token

BUYER = "jane@gazette.example"


def demo_checkout(app: Flask, db: Session) -> tuple[int, Buyer, str]:
    request_id, url = quoted_request(app, db)
    buyer = Buyer(app, url)
    response = buyer.accept()
    assert response.status_code == 303
    location = response.headers["Location"]
    # The status page's token never goes to the provider, the demo's page included.
    assert re.search(r"/payments/demo/demo_[\w-]+$", location), location
    assert buyer.token not in location
    return request_id, buyer, location.split("://", 1)[-1].split("/", 1)[1]


def test_the_demo_provider_takes_a_test_payment_through_the_same_confirmation_path(
        app: Flask, db: Session) -> None:
    request_id, buyer, checkout_path = demo_checkout(app, db)
    page = buyer.client.get("/" + checkout_path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Demonstration only" in text and "no money moves" in text
    assert "£250.00" in text
    ref = checkout_path.split("/")[2].split("?")[0]
    # Nothing is released by visiting the return page before paying.
    assert buyer.client.get(f"{buyer.url}/payment").status_code == 200
    assert state(db, request_id) == "awaiting_payment"
    paid = buyer.client.post(f"/payments/demo/{ref}/pay",
                             data={"csrf_token": buyer.csrf(), "back": buyer.token})
    # Back to the portal's return address (a key of the checkout's own, not the token),
    # which confirms with the provider and leads this browser back to its status page.
    assert paid.status_code == 303 and re.search(r"/payments/[\w-]{16,64}/return$",
                                                 paid.headers["Location"])
    assert buyer.token not in paid.headers["Location"]
    confirmed = buyer.client.get(paid.headers["Location"])
    assert confirmed.status_code == 303 and confirmed.headers["Location"].endswith(buyer.url)
    assert state(db, request_id) == "licensed"
    (licence,) = licences(db, request_id)
    assert licence.number in buyer.page().get_data(as_text=True)
    assert db.get(DemoCheckout, ref).payment_status == "paid"
    # The closed test checkout cannot be paid twice.
    again = buyer.client.post(f"/payments/demo/{ref}/pay",
                              data={"csrf_token": buyer.csrf(), "back": buyer.token},
                              follow_redirects=True)
    assert "This test checkout is closed (paid)" in again.get_data(as_text=True)
    assert len(licences(db, request_id)) == 1


def test_a_failed_test_payment_can_be_tried_again(app: Flask, db: Session) -> None:
    request_id, buyer, checkout_path = demo_checkout(app, db)
    ref = checkout_path.split("/")[2].split("?")[0]
    failed = buyer.client.post(f"/payments/demo/{ref}/fail",
                               data={"csrf_token": buyer.csrf(), "back": buyer.token})
    assert failed.status_code == 303
    assert payments(db, request_id)[0].status == PaymentStatus.FAILED
    assert "did not go through" in buyer.page().get_data(as_text=True)
    retry = buyer.post("pay")
    assert retry.status_code == 303 and ref not in retry.headers["Location"]
    assert [p.status for p in payments(db, request_id)] == [PaymentStatus.FAILED,
                                                            PaymentStatus.OPEN]


def test_the_demo_provider_is_refused_in_production(app: Flask, db: Session) -> None:
    _request_id, buyer, checkout_path = demo_checkout(app, db)
    app.config["ENV"] = "production"
    assert buyer.client.get("/" + checkout_path).status_code == 404
    with app.app_context(), pytest.raises(ProviderError, match="refused in production"):
        Providers(app).get("demo")


def _mark_paid(client: FlaskClient, db: Session, payment: Payment, amount: str):
    page_url = f"/staff/requests/{payment.request.reference}"
    return client.post(f"{page_url}/invoice-paid", data={
        "csrf_token": page_csrf_token(client, page_url), "payment_id": payment.id,
        "amount": amount, "reference": "BANK-REF-991"})


def test_an_institution_pays_by_invoice_and_staff_mark_it_paid(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin) -> None:
    request_id, url = quoted_request(app, db, payment_method="invoice")
    buyer = Buyer(app, url)
    accepted = buyer.accept()
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith(url)
    (payment,) = payments(db, request_id)
    number = payment.provider_ref
    assert re.fullmatch(r"INV-\d{4}-\d{5}", number)
    with db.get_bind().connect() as connection:  # the status token is kept nowhere
        assert buyer.token not in repr(connection.exec_driver_sql(
            "SELECT * FROM payments").fetchall())
    page = buyer.page().get_data(as_text=True)
    assert number in page and "Example Bank" in page and "Download the invoice" in page
    assert any(number in m.subject or "invoice" in m.subject for m in mails_to(db, BUYER))
    pdf = buyer.client.get(f"{url}/invoice/{number}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    for expected in (number, "£250.00", "Gazette", "IBAN", payment.request.reference):
        assert expected in text, expected
    staff_login(StaffRole.LICENSING)
    response = _mark_paid(client, db, payment, "250.00")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert state(db, request_id) == "licensed"
    (payment,) = payments(db, request_id)
    assert (payment.status, payment.received_reference) == (PaymentStatus.PAID, "BANK-REF-991")
    assert licences(db, request_id)[0].status == LicenceStatus.ACTIVE
    assert _mark_paid(client, db, payment, "250.00").status_code == 422  # only once


def test_an_invoice_paid_short_is_held_for_staff(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin) -> None:
    request_id, url = quoted_request(app, db, payment_method="invoice")
    Buyer(app, url).accept()
    staff_login(StaffRole.LICENSING)
    (payment,) = payments(db, request_id)
    assert _mark_paid(client, db, payment, "200.00").status_code == 303
    (payment,) = payments(db, request_id)
    assert "£200.00 was paid" in payment.problem
    assert state(db, request_id) == "awaiting_payment" and licences(db, request_id) == []
    page = client.get(f"/staff/requests/{payment.request.reference}").get_data(as_text=True)
    assert "A payment needs your attention" in page
    # Every form on the page is usable by its labels: each label names one field.
    ids = re.findall(r'\sid="([^"]+)"', page)
    labelled = re.findall(r'<label for="([^"]+)"', page)
    assert labelled and all(ids.count(target) == 1 for target in labelled), [
        target for target in labelled if ids.count(target) != 1]


def test_an_invoice_is_private_to_its_request(app: Flask, db: Session) -> None:
    first_id, first_url = quoted_request(app, db, payment_method="invoice")
    _second_id, second_url = quoted_request(app, db, payment_method="invoice")
    Buyer(app, first_url).accept()
    other = Buyer(app, second_url)
    number = payments(db, first_id)[0].provider_ref
    assert other.client.get(f"{second_url}/invoice/{number}.pdf").status_code == 404
    assert other.client.get(f"/requests/{'x' * 43}/invoice/{number}.pdf").status_code == 404


def test_staff_switch_a_request_to_invoice_and_its_open_checkout_closes(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin) -> None:
    request_id, buyer, checkout_path = demo_checkout(app, db)
    staff_login(StaffRole.LICENSING)
    db.expire_all()
    row = db.get(RepublishRequest, request_id)
    page_url = f"/staff/requests/{row.reference}"
    response = client.post(f"{page_url}/payment-method", data={
        "csrf_token": page_csrf_token(client, page_url), "version": row.version,
        "method": "invoice"})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert payments(db, request_id)[0].status == PaymentStatus.EXPIRED
    assert buyer.post("pay").status_code == 303
    assert payments(db, request_id)[-1].provider_ref.startswith("INV-")
    bad = client.post(f"{page_url}/payment-method", data={
        "csrf_token": page_csrf_token(client, page_url), "version": 1, "method": "bitcoin"})
    assert bad.status_code == 422


def test_approving_free_of_charge_issues_a_licence_with_no_fee(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin) -> None:
    request = make_request(app, db)
    staff_login(StaffRole.LICENSING)
    page_url = f"/staff/requests/{request.reference}"
    response = client.post(f"{page_url}/approve-free", data={
        "csrf_token": page_csrf_token(client, page_url), "version": request.version})
    assert response.status_code == 303
    (licence,) = licences(db, request.id)
    assert (licence.fee_minor, licence.status, licence.payment_id) == (0, LicenceStatus.ACTIVE,
                                                                       None)
    assert any(licence.number in m.text_body for m in mails_to(db, BUYER))


def test_an_unpaid_accepted_quote_expires_unless_a_payment_is_under_way(
        app: Flask, db: Session) -> None:
    request_id, buyer, _checkout = demo_checkout(app, db)
    db.execute(update(Quote).where(Quote.request_id == request_id)
               .values(valid_until=utcnow() - timedelta(minutes=1)))
    db.commit()
    runner = app.test_cli_runner()
    assert "Expired 0 quotes" in runner.invoke(args=["requests", "expire"]).output
    db.execute(update(Payment).values(status=PaymentStatus.EXPIRED))
    db.commit()
    before = footprint(db)
    assert "Expired 1 quote" in runner.invoke(args=["requests", "expire"]).output
    assert state(db, request_id) == "expired" and footprint(db) != before


@pytest.mark.parametrize("payment_id", ["2147483648", "99999999999999999999", "-1", "x"])
def test_staff_forms_refuse_a_payment_id_out_of_range(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin,
        payment_id: str) -> None:
    request = make_request(app, db)
    staff_login(StaffRole.LICENSING)
    page_url = f"/staff/requests/{request.reference}"
    for action in ("refund", "invoice-paid"):
        response = client.post(f"{page_url}/{action}", data={
            "csrf_token": page_csrf_token(client, page_url), "payment_id": payment_id,
            "amount": "1", "reason": "x", "reference": "x", "key": "k" * 20})
        assert response.status_code == 422, action


@pytest.mark.parametrize(("action", "data", "message"), [
    ("refund", {"amount": "abc", "reason": "x"}, "as a number"),
    ("refund", {"amount": "1,250", "reason": "x"}, "thousands separator"),
    ("refund", {"amount": "10", "reason": ""}, "Please give the reason"),
    ("refund", {"amount": "10", "reason": "x", "key": "short"}, "Please check the form below"),
    ("invoice-paid", {"amount": "250", "reference": ""}, "Please fill in this field"),
    ("invoice-paid", {"amount": "2.505", "reference": "T1"}, "at most 2 decimal places"),
])
def test_staff_payment_forms_explain_bad_input_and_change_nothing(
        app: Flask, db: Session, client: FlaskClient, staff_login: StaffLogin,
        action: str, data: dict[str, str], message: str) -> None:
    request_id, url = quoted_request(app, db, payment_method="invoice")
    Buyer(app, url).accept()
    (payment,) = payments(db, request_id)
    staff_login(StaffRole.LICENSING)
    page_url = f"/staff/requests/{payment.request.reference}"
    if action == "refund":  # a payment to refund: the transfer arrived
        assert _mark_paid(client, db, payment, "250.00").status_code == 303
    status = payments(db, request_id)[0].status
    before = footprint(db)
    response = client.post(f"{page_url}/{action}", data={
        "csrf_token": page_csrf_token(client, page_url), "payment_id": payment.id,
        "key": "k" * 20, **data})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert footprint(db) == before and payments(db, request_id)[0].status == status


def test_demo_and_renewal_addresses_that_lead_nowhere_are_404(app: Flask, db: Session) -> None:
    _request_id, buyer, checkout_path = demo_checkout(app, db)
    ref = checkout_path.split("/")[2].split("?")[0]
    assert buyer.client.post(f"/payments/demo/{ref}/steal",
                             data={"csrf_token": buyer.csrf()}).status_code == 404
    assert buyer.client.post("/payments/demo/demo_unknown/pay",
                             data={"csrf_token": buyer.csrf()}).status_code == 404
    assert buyer.client.get(f"{buyer.url}/renew").status_code == 404  # no licence yet
