"""The process model, started as it is run: `make run`'s Procfile under honcho (web, outbox
worker, periodic jobs), and gunicorn in production with config/gunicorn.conf.py."""

import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_app
from tests.payments_support import quoted_request
from tests.process_support import (
    BIN,
    Browser,
    Processes,
    answers,
    free_port,
    portal_env,
    request_fields,
    wait_until,
)

pytestmark = pytest.mark.slow
DEMO_ARTICLE = "/articles/harbour-town-votes-to-own-its-wind-farm/republish"


@pytest.fixture
def processes(tmp_path: Path):  # type: ignore[no-untyped-def]
    running = Processes(tmp_path)
    yield running
    running.stop_all()


def flask(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([str(BIN / "flask"), *args], env=env, capture_output=True,
                            text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_procfile_runs_the_whole_portal_and_ctrl_c_stops_it(
        tmp_path: Path, processes: Processes) -> None:
    port = free_port()
    mail = tmp_path / "mail"
    env = portal_env(ENV="development", SECRET_KEY="procfile-test",
                     DATABASE_URL=f"sqlite:///{tmp_path / 'portal.sqlite3'}",
                     MAIL_URL=f"file://{mail}", BASE_URL=f"http://127.0.0.1:{port}")
    flask(env, "db", "upgrade")
    assert f"http://127.0.0.1:{port}/staff/" in flask(env, "demo", "load")
    honcho = processes.start("honcho", [str(BIN / "honcho"), "start", "-f", "Procfile",
                                        "-p", str(port)], env)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers(base + "/healthz"), 30, "the web process")

    status, landed, page = Browser(base).submit(DEMO_ARTICLE, request_fields())
    assert status == 200 and "/requests/" in landed, page[:500]
    assert re.search(r"Your request RR-\d{4}-\d{5} has been received", page)
    # The outbox worker sends the e-mails with no other command, within seconds.
    wait_until(lambda: len(list(mail.glob("*.eml"))) >= 2, 15,
               "the request's e-mails in the mail folder")
    sent = "\n".join(path.read_text() for path in mail.glob("*.eml"))
    assert "To: jane@gazette.example" in sent
    output = honcho.output()
    assert "jobs.1" in output and "requests-expire: Expired 0 quotes." in output

    honcho.stop(signal.SIGINT, timeout=20)  # Ctrl-C in the terminal reaches the whole group
    for name in ("web.1", "mail.1", "jobs.1"):
        assert f"{name} stopped" in honcho.output(), honcho.output()[-2000:]
    assert not answers(base + "/healthz")


def test_gunicorn_serves_production_with_masked_access_lines(
        tmp_path: Path, processes: Processes) -> None:
    database_url = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    app = make_app(tmp_path, database_url)
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        db = app.extensions["portal.db"].sessionmaker()
        _request_id, status_path = quoted_request(app, db)
        db.close()
    token = status_path.rsplit("/", 1)[1]
    port = free_port()
    env = portal_env(ENV="production", SECRET_KEY="a-production-secret-for-this-test",
                     EXTRA_HOSTS="127.0.0.1",  # reached on 127.0.0.1:<port>, not BASE_URL
                     BASE_URL="https://portal.example", MAIL_URL="smtp://127.0.0.1:1",
                     PAYMENT_PROVIDER="invoice", DATABASE_URL=database_url,
                     BIND=f"127.0.0.1:{port}", WEB_WORKERS="2", WEB_THREADS="2")
    gunicorn = processes.start("gunicorn", [str(BIN / "gunicorn"), "-c",
                                            "config/gunicorn.conf.py"], env)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: answers(base + "/healthz"), 30, "gunicorn")

    browser = Browser(base)
    status, _url, page = browser.get(status_path)
    assert status == 200 and "Your quote" in page
    with browser.opener.open(base + "/readyz", timeout=5) as response:
        request_id = response.headers["X-Request-ID"]
        assert response.status == 200
    assert request_id

    wait_until(lambda: "/readyz" in gunicorn.output(), 5, "the access line")
    log = gunicorn.output()
    assert log.count("Booting worker") == 2, log
    assert '"GET /requests/… HTTP/1.1" 200' in log, log
    assert token not in log
    assert f"id={request_id}" in log

    assert gunicorn.stop(signal.SIGTERM) == 0
    assert "Shutting down: Master" in gunicorn.output()
