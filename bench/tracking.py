"""How fast the tracking image is, next to a bare Flask app serving the same GIF.

One run: a fresh database (a SQLite file in a temporary folder, or a schema of its own on a
PostgreSQL server with --database-url), the portal's tables, one licence; then, each in a
process of its own under Werkzeug's threaded WSGI server (HTTP/1.1 keep-alive, request log
off), the real portal and a bare Flask app whose one view returns the same 43 bytes. Each is
loaded for --seconds with wrk when it is installed, else with a small Python load generator
(threads, http.client keep-alive). Three runs:

  bare          the bare app: the ceiling of Flask + Werkzeug on this machine
  new readers   the portal, every request from another reader: one INSERT and a commit each
  one reader    the portal, one reader over and over: every request folded (no row written)

and the requests per second of each, the ratio to the bare app, and how many views the
portal stored (so that a fast run that silently failed to write would show).

    .venv/bin/python bench/tracking.py --seconds 10
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36")
#: after a run, time for the requests still in the server to finish
SETTLE_SECONDS = 2.0
REFERRER = "https://www.gazette.example/2026/03/harbour-wind?utm_source=bench"

# wrk: each request from another reader (X-Forwarded-For, read through ProxyFix) or the same.
WRK_SCRIPT = """
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
end
local n = 0
request = function()
  n = n + 1
  local address = "10.0.0.1"
  if vary then
    address = string.format("10.%d.%d.%d", id % 256, math.floor(n / 256) % 256, n % 256)
  end
  local agent = "{agent}"
  if vary then agent = agent .. " run" .. run .. "." .. math.floor(n / 65536) end
  return wrk.format("GET", wrk.path, {
    ["Host"] = wrk.headers["Host"],
    ["User-Agent"] = agent,
    ["Referer"] = "{referrer}",
    ["X-Forwarded-For"] = address,
  })
end
"""


def app_config(database_url: str, folder: Path) -> dict[str, Any]:
    return {
        "ENV": "test",
        "SECRET_KEY": "bench-secret",
        "DATABASE_URL": database_url,
        "MAIL_URL": f"file://{folder / 'mail'}",
        "BASE_URL": "https://licensing.bench.example",
        "PROXY_FIX_X_FOR": 1,
    }


# --- the servers (run as child processes: python bench/tracking.py --serve ...) -------------

def bare_app() -> Any:
    from flask import Flask, Response
    from werkzeug.middleware.proxy_fix import ProxyFix

    from portal.licences.tracking import PIXEL

    app = Flask("bare")

    @app.get("/t/<key>.gif")
    def pixel(key: str) -> Response:
        response = Response(PIXEL, mimetype="image/gif")
        response.headers["Cache-Control"] = "no-store, private"
        return response

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    return app


def serve(kind: str, port: int, database_url: str, folder: Path) -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as behind a proxy or CDN

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    if kind == "bare":
        app = bare_app()
    else:
        from portal import create_app

        app = create_app(app_config(database_url, folder))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=Handler)
    server.serve_forever()


# --- the driver ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start within 30 seconds")


def prepare(database_url: str, folder: Path) -> tuple[str, Any]:
    """Tables and one licence (a request approved free of charge); returns its tracking key."""
    from sqlalchemy import select

    import portal.models  # noqa: F401  (every table)
    from portal import create_app
    from portal.db import Base
    from portal.licences.models import Licence
    from portal.licensing import services
    from portal.licensing.models import RepublishRequest
    from tests.factories import make_article, make_request

    app = create_app(app_config(database_url, folder))
    engine = app.extensions["portal.db"].engine
    Base.metadata.create_all(engine)
    db = app.extensions["portal.db"].sessionmaker()
    made = make_request(app, db, article=make_article(db))
    with app.test_request_context():
        session = app.extensions["portal.db"].sessionmaker()
        row = session.get(RepublishRequest, made.id)
        assert row is not None
        services.approve_free(session, row, actor="staff:1")
        session.commit()
        key: str = session.scalar(select(Licence.tracking_key))  # type: ignore[assignment]
        session.close()
    db.close()
    return key, engine


def stored_views(engine: Any) -> int:
    from sqlalchemy import func, select

    from portal.licences.tracking import LicenceView

    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(LicenceView)) or 0)


@dataclass
class Result:
    requests_per_second: float
    requests: int
    failures: int
    detail: str = ""


_runs = iter(range(1, 1_000_000))


def run_wrk(url: str, seconds: int, connections: int, threads: int, vary: bool,
            folder: Path) -> Result:
    run = next(_runs)  # each run's readers are new to the portal
    script = folder / f"wrk-{run}.lua"
    body = WRK_SCRIPT.replace("{agent}", BROWSER).replace("{referrer}", REFERRER)
    script.write_text(f"vary = {'true' if vary else 'false'}\nrun = {run}\n{body}")
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(script), url],
        check=True, capture_output=True, text=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    latency = re.search(r"Latency\s+(\S+)", output)
    p99 = re.search(r"99%\s+(\S+)", output)
    detail = f"latency avg {latency.group(1) if latency else '?'}, p99 {p99.group(1) if p99 else '?'}"
    if errors:
        detail += f"; socket errors: {errors.group(1)}"
    return Result(rate, total, int(bad.group(1)) if bad else 0, detail)


def run_python(url: str, seconds: int, connections: int, vary: bool) -> Result:
    """A small load generator: `connections` threads, each one keep-alive connection."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    run = next(_runs)  # each run's readers are new to the portal
    counts = [0] * connections
    failures = [0] * connections
    deadline = time.monotonic() + seconds

    def worker(index: int) -> None:
        connection = HTTPConnection(parts.hostname, parts.port, timeout=10)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            address = f"10.{index}.{n // 256 % 256}.{n % 256}" if vary else "10.0.0.1"
            agent = f"{BROWSER} run{run}.{n // 65536}" if vary else BROWSER
            try:
                connection.request("GET", parts.path, headers={
                    "User-Agent": agent, "Referer": REFERRER, "X-Forwarded-For": address})
                response = connection.getresponse()
                response.read()
                if response.status == 200:
                    counts[index] += 1
                else:
                    failures[index] += 1
            except OSError:
                failures[index] += 1
                connection.close()
                connection = HTTPConnection(parts.hostname, parts.port, timeout=10)
        connection.close()

    started = time.monotonic()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    total = sum(counts) + sum(failures)
    return Result(sum(counts) / elapsed, total, sum(failures),
                  "Python load generator (its own speed caps the figures)")


def postgres_schema(url: str) -> tuple[str, str]:
    """A schema of its own on the server, and the URL confined to it."""
    from sqlalchemy import create_engine, text

    schema = f"bench_tracking_{os.getpid()}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return schema, f"{url}{separator}options=-csearch_path%3D{schema}"


def drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="per run (default 10)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server to use instead of a SQLite file (a schema "
                             "of its own is made and dropped)")
    parser.add_argument("--python-load", action="store_true",
                        help="use the Python load generator even if wrk is installed")
    parser.add_argument("--serve", choices=["bare", "portal"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve(args.serve, args.port, args.database_url, Path(args.folder))
        return

    folder = Path(tempfile.mkdtemp(prefix="bench-tracking-"))
    schema = None
    if args.database_url:
        schema, database_url = postgres_schema(args.database_url)
    else:
        database_url = f"sqlite:///{folder / 'portal.sqlite3'}"
    use_wrk = shutil.which("wrk") is not None and not args.python_load
    processes: list[subprocess.Popen[bytes]] = []
    try:
        key, engine = prepare(database_url, folder)
        servers = {}
        for kind in ("bare", "portal"):
            port = free_port()
            log = folder / f"{kind}.log"
            process = subprocess.Popen(
                [sys.executable, __file__, "--serve", kind, "--port", str(port),
                 "--database-url", database_url, "--folder", str(folder)],
                stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
            )
            processes.append(process)
            wait_for(port, process, log)
            servers[kind] = f"http://127.0.0.1:{port}/t/{key}.gif"

        print(f"database: {engine.dialect.name}; server: Werkzeug threaded (HTTP/1.1); "
              f"load: {'wrk' if use_wrk else 'Python threads'}, {args.connections} connections, "
              f"{args.seconds} s per run; {os.cpu_count()} CPUs (servers and load share them)")
        results: dict[str, Result] = {}
        runs = [("bare", "bare", True), ("new readers", "portal", True),
                ("one reader", "portal", False)]
        for name, kind, vary in runs:
            # A short warm-up, so that connections and caches are in place; then a pause, so
            # that requests still in the server are done before the count is read.
            if use_wrk:
                run_wrk(servers[kind], 1, args.connections, args.threads, vary, folder)
            else:
                run_python(servers[kind], 1, args.connections, vary)
            time.sleep(SETTLE_SECONDS)
            before = stored_views(engine)
            if use_wrk:
                result = run_wrk(servers[kind], args.seconds, args.connections, args.threads,
                                 vary, folder)
            else:
                result = run_python(servers[kind], args.seconds, args.connections, vary)
            time.sleep(SETTLE_SECONDS)
            stored = stored_views(engine) - before
            results[name] = result
            extra = f", {stored:,} views stored" if kind == "portal" else ""
            print(f"{name:12} {result.requests_per_second:9.0f} requests/s "
                  f"({result.requests:,} requests, {result.failures} failed{extra}; "
                  f"{result.detail})")
        bare = results["bare"].requests_per_second
        for name in ("new readers", "one reader"):
            print(f"ratio {name} ÷ bare: {results[name].requests_per_second / bare:.2f}")
        for kind in ("bare", "portal"):
            lines = [line for line in (folder / f"{kind}.log").read_text().splitlines() if line]
            if lines:
                print(f"{kind} server said ({len(lines)} lines), last: {lines[-1][:200]}")
        engine.dispose()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        if schema and args.database_url:
            drop_schema(args.database_url, schema)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
