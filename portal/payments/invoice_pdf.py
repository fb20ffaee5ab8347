"""The invoice as a PDF (fpdf2): who bills whom, for what, how much, and where to pay."""

from flask import current_app

from portal.licensing.usage import MEDIA, TERMS
from portal.payments.models import Payment
from portal.pdf import Document


def invoice_pdf(payment: Payment) -> bytes:
    config = current_app.config
    request, quote = payment.request, payment.quote
    document = Document(f"Invoice {payment.provider_ref}", str(config["PUBLISHER_NAME"]))
    line = document.line

    line(str(config["PUBLISHER_NAME"]), 16, "B", 8)
    line(str(config["PUBLISHER_ADDRESS"] or ""))
    if config.get("PUBLISHER_VAT_ID"):
        line(f"VAT number: {config['PUBLISHER_VAT_ID']}")
    document.gap(8)
    line(f"Invoice {payment.provider_ref}", 14, "B", 7)
    if payment.status.value == "expired":
        line("CANCELLED: this invoice is no longer payable.", 12, "B", 7)
    elif payment.is_received:
        line(f"PAID on {payment.paid_at:%d %B %Y}" if payment.paid_at else "PAID", 12, "B", 7)
    line(f"Date: {payment.created_at:%d %B %Y}")
    if payment.expires_at:
        line(f"Due by: {payment.expires_at:%d %B %Y}")
    line(f"Your request: {request.reference}")
    document.gap(6)
    line("Bill to", 10, "B")
    line(f"{request.organisation}\n{request.requester_name} <{request.requester_email}>")
    if request.vat_id:
        line(f"VAT number: {request.vat_id}")
    document.gap(6)
    line("Description", 10, "B")
    line(f"Licence to republish “{request.article.title}” "
         f"({MEDIA.get(request.medium, request.medium)}: {request.publication_name}; "
         f"term: {TERMS.get(request.term, request.term).lower()}), under quote version "
         f"{quote.version}.")
    document.gap(4)
    line(f"{'Amount' if payment.status.value == 'expired' else 'Amount due'}: {payment.amount}",
         13, "B", 7)
    document.gap(6)
    line("How to pay", 10, "B")
    line(f"By bank transfer. {config['PUBLISHER_BANK_DETAILS']}")
    line(f"Please quote {payment.provider_ref} as the payment reference. The licence is "
         "issued when the payment reaches us.")
    return document.output()
