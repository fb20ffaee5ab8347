"""Where the folders that live beside the package in a checkout are found.

In a source checkout (and an editable install) templates/, migrations/ and config/ sit next
to portal/; a wheel carries them inside the package (see pyproject.toml's force-include).
"""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_INSIDE = {"templates": "templates", "migrations": "migrations", "config": "config_files"}


def resource_dir(name: str) -> Path:
    """Path of the templates, migrations or config folder, installed or checked out."""
    inside = _PACKAGE / _INSIDE[name]
    if inside.is_dir():
        return inside
    return _PACKAGE.parent / name
