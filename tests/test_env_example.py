"""`.env.example` lists every setting of config/default.py as a PORTAL_* variable, with a
comment, and nothing that is not a setting; `.flaskenv` names the app for `flask`."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def settings() -> list[str]:
    tree = ast.parse((ROOT / "config" / "default.py").read_text())
    return [node.targets[0].id for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.isupper()]


def test_env_example_lists_every_setting_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    listed = [m.group(1) for line in lines if (m := re.match(r"# PORTAL_([A-Z0-9_]+)=", line))]
    assert sorted(listed) == sorted(settings()), (
        "update .env.example: missing " f"{sorted(set(settings()) - set(listed))}, "
        f"not settings {sorted(set(listed) - set(settings()))}")
    for number, line in enumerate(lines):
        if line.startswith("# PORTAL_"):
            above = lines[number - 1]
            assert above.startswith("#") and above.strip() != "#", f"no comment for {line}"


def test_flaskenv_names_the_app() -> None:
    assert "FLASK_APP=portal" in (ROOT / ".flaskenv").read_text().splitlines()
