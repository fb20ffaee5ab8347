"""What the portal's PDFs (invoices, licence certificates) share: an A4 page with a Unicode
font when the system has one (Debian's fonts-dejavu-core), else Helvetica with the text
brought down to Latin-1."""

from pathlib import Path

from fpdf import FPDF

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


class Document:
    """An A4 document written line by line."""

    def __init__(self, title: str, author: str) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_margins(20, 20, 20)
        self.pdf.set_auto_page_break(True, 20)
        self.pdf.set_title(title)
        self.pdf.set_author(author)
        regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
        self.unicode = regular.exists() and bold.exists()
        if self.unicode:
            self.pdf.add_font("Portal", "", str(regular))
            self.pdf.add_font("Portal", "B", str(bold))
        self.font = "Portal" if self.unicode else "Helvetica"
        self.pdf.add_page()

    def plain(self, text: str) -> str:
        if self.unicode:
            return text
        text = (text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
                .replace("–", "-").replace("—", "-").replace("…", "...").replace("×", "x"))
        return text.encode("latin-1", "replace").decode("latin-1")

    def line(self, text: str, size: int = 10, style: str = "", height: float = 5.5) -> None:
        self.pdf.set_font(self.font, style, size)
        self.pdf.multi_cell(self.pdf.epw, height, self.plain(text), new_x="LMARGIN",
                            new_y="NEXT")

    def gap(self, height: float) -> None:
        self.pdf.ln(height)

    def output(self) -> bytes:
        return bytes(self.pdf.output())
