"""A plain (non-editable) install carries the templates, migrations and configuration."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_non_editable_install_finds_templates_and_migrations(tmp_path: Path) -> None:
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr
    assert (target / "portal" / "templates" / "public" / "republish_form.html").is_file()
    script = f"""
import portal
assert portal.__file__.startswith({str(target)!r}), portal.__file__
from portal import create_app
app = create_app({{"ENV": "test", "DATABASE_URL": "sqlite:///{tmp_path}/db.sqlite3"}})
result = app.test_cli_runner().invoke(args=["db", "upgrade"])
assert result.exit_code == 0, result.output
response = app.test_client().get("/")
assert response.status_code == 200, response.status_code
assert "Republish our journalism" in response.get_data(as_text=True)
assert app.test_client().get("/static/portal.css").status_code == 200
print("ok")
"""
    env = {**os.environ, "PYTHONPATH": str(target)}
    # Run from an empty folder so that the checkout's own portal/ is not on the path.
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("ok")
