"""Logs people can use: INFO lines kept, plain lines in development, JSON lines in production,
a request id on every line of a request (and in X-Request-ID), secrets masked, Sentry optional."""

import json
import logging
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from portal import logs
from portal.config import ConfigurationError
from tests.conftest import make_app

TOKEN = "Zx8r2Kq9vB4nT6yL1mP0sW3dF5gH7jQe"  # shaped like a status token (token_urlsafe)
RETURN_KEY = "rk_8f3b2c1d9e7a6b5c4d3e2f1a"
PRODUCTION = {"PORTAL_ENV": "production", "PORTAL_SECRET_KEY": "a-production-secret-of-32-bytes-at-least",
              # the test client's Host, besides BASE_URL's
              "PORTAL_EXTRA_HOSTS": "localhost",
              "PORTAL_STRIPE_WEBHOOK_SECRET": "whsec_x", "PORTAL_STRIPE_SECRET_KEY": "sk_live_x",
              "PORTAL_BASE_URL": "https://licensing.example.com",
              "PORTAL_MAIL_URL": "smtp://mail.example.com:587?starttls=1"}
NEW_ID = re.compile(r"[0-9a-f]{32}")
_TOUCHED = ("", "portal", "werkzeug", "gunicorn.error", "gunicorn.access")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Development and production apps configure the root logger: put it back for the tests
    after these (and let the next app configure logging afresh)."""
    saved = [(logging.getLogger(name), logging.getLogger(name).handlers[:],
              logging.getLogger(name).level, logging.getLogger(name).propagate)
             for name in _TOUCHED]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
    logs._applied = None


def development_app(tmp_path: Path, **overrides: object) -> Flask:
    return make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}", ENV="development",
                    TESTING=False, SECRET_KEY="dev-secret", **overrides)


def production_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    for key, value in {**PRODUCTION, "PORTAL_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}.items():
        monkeypatch.setenv(key, value)
    from portal import create_app

    return create_app()


def add_logging_routes(app: Flask) -> None:
    @app.get("/log-outcome")
    def log_outcome() -> str:
        logging.getLogger("portal.workflows.example").info("payment 7 confirmed")
        app.logger.info("request answered")
        return "ok"

    @app.get("/log-boom")
    def log_boom() -> str:
        raise RuntimeError(f"failed at /requests/{TOKEN}")


def test_info_lines_of_portal_loggers_reach_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = development_app(tmp_path)
    capsys.readouterr()
    with app.app_context():
        logging.getLogger("portal.workflows.example").info("payment 7 confirmed")
        app.logger.info("licence L-1 issued")
    err = capsys.readouterr().err
    assert "payment 7 confirmed" in err
    assert "licence L-1 issued" in err


def test_info_lines_reach_pytest_capture_in_the_test_environment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The test environment leaves the root logger's handlers (caplog's) alone."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}")
    logging.getLogger("portal.licences.example").info("licence L-2 expired")
    app.logger.info("outcome kept")
    assert [r.getMessage() for r in caplog.records] == ["licence L-2 expired", "outcome kept"]


def test_in_tests_portal_lines_reach_pytest_annotated_and_masked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """...and nothing is written to stderr, where a command's output (CliRunner) would show it."""
    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}")

    @app.get("/log-url")
    def log_url() -> str:
        logging.getLogger("portal.public.example").info("renewal link /requests/%s/renew", TOKEN)
        return "ok"

    capsys.readouterr()
    response = app.test_client().get("/log-url")
    [record] = [r for r in caplog.records if r.name == "portal.public.example"]
    assert record.getMessage() == "renewal link /requests/…/renew"
    assert record.request_id == response.headers["X-Request-ID"]  # type: ignore[attr-defined]
    assert capsys.readouterr().err == ""


def test_development_writes_plain_lines_with_the_request_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = development_app(tmp_path)
    add_logging_routes(app)
    capsys.readouterr()
    response = app.test_client().get("/log-outcome")
    request_id = response.headers["X-Request-ID"]
    lines = [line for line in capsys.readouterr().err.splitlines() if "portal.workflows" in line]
    assert len(lines) == 1
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} INFO +portal\.workflows\.example "
        rf"\[{request_id}\] payment 7 confirmed", lines[0]), lines[0]


def test_lines_outside_a_request_have_no_request_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    development_app(tmp_path)
    capsys.readouterr()
    logging.getLogger("portal.jobs").info("job ran")
    assert "[-] job ran" in capsys.readouterr().err


def test_production_writes_json_lines_carrying_the_request_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = production_app(tmp_path, monkeypatch)
    add_logging_routes(app)
    client = app.test_client()
    capsys.readouterr()
    response = client.get("/log-outcome")
    failed = client.get("/log-boom")
    logging.getLogger("portal.jobs").warning("outside any request")
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    by_message = {entry["message"]: entry for entry in entries}
    outcome = by_message["payment 7 confirmed"]
    assert outcome["request_id"] == response.headers["X-Request-ID"]
    assert outcome["level"] == "INFO" and outcome["logger"] == "portal.workflows.example"
    assert outcome["time"].endswith("+00:00")
    assert by_message["request answered"]["request_id"] == response.headers["X-Request-ID"]
    assert "request_id" not in by_message["outside any request"]

    assert failed.status_code == 500
    [error] = [entry for entry in entries if "exception" in entry]
    assert error["level"] == "ERROR"
    assert error["request_id"] == failed.headers["X-Request-ID"] != response.headers["X-Request-ID"]
    assert "RuntimeError: failed at /requests/…" in error["exception"]
    assert TOKEN not in json.dumps(entries)


def test_log_format_and_level_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PORTAL_LOG_FORMAT", "json")
    monkeypatch.setenv("PORTAL_LOG_LEVEL", "warning")
    app = development_app(tmp_path)
    assert app.config["LOG_FORMAT"] == "json"
    capsys.readouterr()
    logging.getLogger("portal.example").info("left out at WARNING")
    logging.getLogger("portal.example").warning("kept")
    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["message"] == "kept"


@pytest.mark.parametrize(("key", "value", "message"), [
    ("LOG_FORMAT", "xml", "PORTAL_LOG_FORMAT must be one of plain, json"),
    ("LOG_LEVEL", "LOUD", "PORTAL_LOG_LEVEL must be"),
])
def test_unknown_log_settings_are_refused(
    tmp_path: Path, key: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}", **{key: value})


def test_a_test_app_after_a_production_one_gives_the_root_logger_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    level = root.level
    production_app(tmp_path, monkeypatch)
    assert any(isinstance(h, logs.ConsoleHandler) for h in root.handlers)
    monkeypatch.setenv("PORTAL_ENV", "test")
    make_app(tmp_path, f"sqlite:///{tmp_path / 'y.sqlite3'}")
    assert not any(isinstance(h, logs.ConsoleHandler) for h in root.handlers)
    assert root.level == level == logging.WARNING


def test_making_many_apps_configures_logging_once(tmp_path: Path) -> None:
    make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}")
    handlers = logging.getLogger("portal").handlers[:]
    make_app(tmp_path, f"sqlite:///{tmp_path / 'y.sqlite3'}")
    assert logging.getLogger("portal").handlers == handlers
    assert [type(h) for h in handlers] == [logs.Annotate]


@pytest.fixture
def client(tmp_path: Path):  # noqa: ANN201
    return make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}").test_client()


@pytest.mark.parametrize("incoming", ["abc-123.DEF_4", "f" * 64, "0"])
def test_a_safe_request_id_from_the_proxy_is_kept(client, incoming: str) -> None:  # noqa: ANN001
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", [
    "f" * 65, "two words", "line\r\nSet-Cookie: session=x", "", "ünïcode", "<script>",
])
def test_an_unsafe_request_id_is_replaced(client, incoming: str) -> None:  # noqa: ANN001
    response = client.get("/healthz", environ_overrides={"HTTP_X_REQUEST_ID": incoming})
    assert NEW_ID.fullmatch(response.headers["X-Request-ID"])


def test_every_response_has_a_request_id_even_one_refused_early(client) -> None:  # noqa: ANN001
    first = client.get("/no-such-page")
    refused = client.get("/healthz?q=%00")  # answered 400 by an earlier before_request
    assert (first.status_code, refused.status_code) == (404, 400)
    assert NEW_ID.fullmatch(first.headers["X-Request-ID"])
    assert NEW_ID.fullmatch(refused.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != refused.headers["X-Request-ID"]


@pytest.mark.parametrize(("line", "masked"), [
    (f"GET /requests/{TOKEN} 200", "GET /requests/… 200"),
    (f"POST /requests/{TOKEN}/accept", "POST /requests/…/accept"),
    (f"GET /payments/{RETURN_KEY}/return?session_id=cs_1", "GET /payments/…/return?session_id=cs_1"),
    (f"GET /payments/{RETURN_KEY}/cancelled", "GET /payments/…/cancelled"),
    (f"GET /renew?ref=R-1&token={TOKEN}&x=1", "GET /renew?ref=R-1&token=…&x=1"),
    ("GET /requests/new", "GET /requests/new"),  # too short to be a token
    ("POST /payments/demo/PAY-1/succeed", "POST /payments/demo/PAY-1/succeed"),
    ("GET /t/abcdef0123456789.gif", "GET /t/abcdef0123456789.gif"),  # not a secret
    (f"POST /staff/password/reset/{TOKEN}", "POST /staff/password/reset/…"),
    ("GET /my-requests/ImphbmVAZ2F6ZXR0ZS5leGFtcGxlIg.awjLgg.oJyORvrGsBxTzUvmxJvRuZ3UYxI/RR-2026-00001",
     "GET /my-requests/…/RR-2026-00001"),
    # the back office's request references are not secrets, and staff need them
    ("POST /staff/requests/RR-2026-00001/quote", "POST /staff/requests/RR-2026-00001/quote"),
])
def test_secrets_in_urls_are_masked(line: str, masked: str) -> None:
    assert logs.redact(line) == masked


@pytest.mark.parametrize("logger_name", ["portal.public.example", "portal", "werkzeug",
                                         "gunicorn.access", "sqlalchemy.engine"])
def test_every_handler_masks_status_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], logger_name: str
) -> None:
    development_app(tmp_path)
    capsys.readouterr()
    logging.getLogger(logger_name).warning('"GET %s HTTP/1.1" 200', f"/requests/{TOKEN}?token={TOKEN}")
    err = capsys.readouterr().err
    assert '"GET /requests/…?token=… HTTP/1.1" 200' in err
    assert TOKEN not in err


def test_werkzeug_access_lines_are_masked_at_the_source(caplog: pytest.LogCaptureFixture,
                                                        tmp_path: Path) -> None:
    """Filters on werkzeug's and gunicorn's loggers mask the record itself, so their own
    handlers (and pytest's) never see the token either."""
    make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info('"GET /requests/%s HTTP/1.1" 200', TOKEN)
    assert caplog.records and TOKEN not in caplog.text


def test_without_a_sentry_dsn_sentry_is_never_imported(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from portal import create_app\n"
        f"create_app({{'ENV': 'test', 'DATABASE_URL': 'sqlite:///{tmp_path}/x.sqlite3'}})\n"
        "print('sentry_sdk' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "False"


def test_a_sentry_dsn_without_sentry_sdk_stops_the_start_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # import sentry_sdk -> ImportError
    with pytest.raises(RuntimeError, match=r"sentry-sdk is not installed: pip install"):
        make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}",
                 SENTRY_DSN="https://key@o1.ingest.sentry.io/1")


def test_a_sentry_dsn_starts_sentry_with_flask_and_without_personal_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, object]] = []
    fake = types.ModuleType("sentry_sdk")
    fake.init = lambda **options: calls.append(options)  # type: ignore[attr-defined]
    integrations = types.ModuleType("sentry_sdk.integrations")
    flask_integration = types.ModuleType("sentry_sdk.integrations.flask")

    class FlaskIntegration:
        pass

    flask_integration.FlaskIntegration = FlaskIntegration  # type: ignore[attr-defined]
    for name, module in (("sentry_sdk", fake), ("sentry_sdk.integrations", integrations),
                         ("sentry_sdk.integrations.flask", flask_integration)):
        monkeypatch.setitem(sys.modules, name, module)
    make_app(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite3'}",
             SENTRY_DSN="https://key@o1.ingest.sentry.io/1")
    [options] = calls
    assert options["dsn"] == "https://key@o1.ingest.sentry.io/1"
    assert options["send_default_pii"] is False
    assert [type(i) for i in options["integrations"]] == [FlaskIntegration]  # type: ignore[attr-defined]
