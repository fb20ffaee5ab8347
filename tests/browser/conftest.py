"""A live portal on 127.0.0.1 with the demo data, and Debian's Chromium driven by Playwright."""

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import make_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Flags for a sandboxed CI machine without network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@contextmanager
def demo_portal(folder: Path, **overrides: object) -> Iterator[tuple[Flask, str]]:
    """The portal with the demo data, served on 127.0.0.1 in a thread: (app, base URL)."""
    app = make_app(folder, f"sqlite:///{folder / 'live.sqlite3'}", BASE_URL="http://127.0.0.1:0",
                   **overrides)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = base
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["demo", "load"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with demo_portal(tmp_path_factory.mktemp("live")) as (_app, base):
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's Chromium is not installed: `make test` installs it "
                    "(apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def fits_the_screen(page: Any) -> bool:
    """No sideways scrolling: the page, once its stylesheets are in (an action that leads to a
    new page returns when the page is committed, before its CSS may have loaded), is no wider
    than the window."""
    page.wait_for_load_state("load")
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def shoot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fill_request_form(page: Any, organisation: str = "The Coastal Gazette") -> None:
    """Answer the request form as a person would, by its labels, and send it (the name
    field is left as the page has it)."""
    page.get_by_label("Your e-mail address").fill("jane@gazette.example")
    page.get_by_label("Organisation", exact=True).fill(organisation)
    page.get_by_label("Type of organisation").select_option("non_profit")
    page.get_by_label("Country", exact=True).select_option("NO")
    page.get_by_label("Website", exact=True).check()
    page.get_by_label("Name of the publication, site or programme").fill(f"{organisation} Online")
    page.get_by_label("Audience per month (unique visitors, listeners, or print run)") \
        .select_option("10k_100k")
    for choice in ("Worldwide", "Original language", "Full text", "One year"):
        page.get_by_label(choice).check()
    page.get_by_role("button", name="Send request").click()
