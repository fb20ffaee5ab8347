"""What the public article page shows before a licence: the opening paragraph only.

The licensed copy is the product, so the portal's public page is a preview (headline,
standfirst, first paragraph, a link to the publisher's own page), not a second free copy.
"""

import re

from bs4 import BeautifulSoup, Tag

_SPACE = re.compile(r"\s+")


def first_paragraph(body_html: str) -> str:
    """The text of the body's first non-empty paragraph (plain text, no markup)."""
    soup = BeautifulSoup(body_html, "html.parser")
    for block in soup.find_all("p"):
        if isinstance(block, Tag) and not block.find_parent("figure"):
            text = _SPACE.sub(" ", block.get_text(" ")).strip()
            if text:
                return text
    return _SPACE.sub(" ", soup.get_text(" ")).strip()[:600]
