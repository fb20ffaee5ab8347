"""The invoice as a PDF (fpdf2): who bills whom, for what, how much, and where to pay."""

from pathlib import Path

from flask import current_app
from fpdf import FPDF

from portal.licensing.usage import MEDIA, TERMS
from portal.payments.models import Payment

#: a Unicode font when the system has one (Debian's fonts-dejavu-core); else Helvetica
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def _new_pdf() -> tuple[FPDF, str, bool]:
    pdf = FPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, 20)
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if regular.exists() and bold.exists():
        pdf.add_font("Portal", "", str(regular))
        pdf.add_font("Portal", "B", str(bold))
        return pdf, "Portal", True
    return pdf, "Helvetica", False


def _plain(text: str, unicode: bool) -> str:
    if unicode:
        return text
    text = (text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
            .replace("–", "-").replace("—", "-").replace("…", "..."))
    return text.encode("latin-1", "replace").decode("latin-1")


def invoice_pdf(payment: Payment) -> bytes:
    config = current_app.config
    request, quote = payment.request, payment.quote
    pdf, font, unicode = _new_pdf()
    pdf.set_title(f"Invoice {payment.provider_ref}")
    pdf.set_author(str(config["PUBLISHER_NAME"]))
    pdf.add_page()
    width = pdf.epw

    def line(text: str, size: int = 10, style: str = "", height: float = 5.5) -> None:
        pdf.set_font(font, style, size)
        pdf.multi_cell(width, height, _plain(text, unicode), new_x="LMARGIN", new_y="NEXT")

    line(str(config["PUBLISHER_NAME"]), 16, "B", 8)
    line(str(config["PUBLISHER_ADDRESS"] or ""))
    if config.get("PUBLISHER_VAT_ID"):
        line(f"VAT number: {config['PUBLISHER_VAT_ID']}")
    pdf.ln(8)
    line(f"Invoice {payment.provider_ref}", 14, "B", 7)
    if payment.status.value == "expired":
        line("CANCELLED: this invoice is no longer payable.", 12, "B", 7)
    elif payment.is_received:
        line(f"PAID on {payment.paid_at:%d %B %Y}" if payment.paid_at else "PAID", 12, "B", 7)
    line(f"Date: {payment.created_at:%d %B %Y}")
    if payment.expires_at:
        line(f"Due by: {payment.expires_at:%d %B %Y}")
    line(f"Your request: {request.reference}")
    pdf.ln(6)
    line("Bill to", 10, "B")
    line(f"{request.organisation}\n{request.requester_name} <{request.requester_email}>")
    if request.vat_id:
        line(f"VAT number: {request.vat_id}")
    pdf.ln(6)
    line("Description", 10, "B")
    line(f"Licence to republish “{request.article.title}” "
         f"({MEDIA.get(request.medium, request.medium)}: {request.publication_name}; "
         f"term: {TERMS.get(request.term, request.term).lower()}), under quote version "
         f"{quote.version}.")
    pdf.ln(4)
    line(f"{'Amount' if payment.status.value == 'expired' else 'Amount due'}: {payment.amount}",
         13, "B", 7)
    pdf.ln(6)
    line("How to pay", 10, "B")
    line(f"By bank transfer. {config['PUBLISHER_BANK_DETAILS']}")
    line(f"Please quote {payment.provider_ref} as the payment reference. The licence is "
         "issued when the payment reaches us.")
    return bytes(pdf.output())
