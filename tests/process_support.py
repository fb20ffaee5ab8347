"""Starting the portal's real processes in tests: gunicorn with config/gunicorn.conf.py, the
Procfile under honcho, `outbox send --loop`, `jobs run --loop`; each with its own
environment, as a service manager would start them."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def portal_env(**settings: str) -> dict[str, str]:
    """A clean environment: PATH with the venv first, PORTAL_* from ``settings``."""
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"),
           "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    env.update({f"PORTAL_{key}": value for key, value in settings.items()})
    return env


@dataclass
class Process:
    """A started process whose output goes to a file (read at any time)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig) if sig == signal.SIGINT else self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
                raise AssertionError(f"{self.name} did not stop within {timeout} s:\n"
                                     f"{self.output()[-3000:]}") from None
        return self.popen.returncode


@dataclass
class Processes:
    folder: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        log = self.folder / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(args, env=env, cwd=ROOT, stdout=handle,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait(5)


def wait_until(condition: object, timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(every)
    raise AssertionError(f"waited {timeout} s for {what}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class Browser:
    """Just enough of a browser for a form: cookies, CSRF tokens from pages, redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str, str]:
        with self.opener.open(self.base + path, timeout=15) as response:
            return response.status, response.geturl(), response.read().decode()

    def submit(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        _status, _url, page = self.get(path)
        token = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page)
        assert token, f"no form on {path}"
        data = urllib.parse.urlencode({"csrf_token": token.group(1), **fields}).encode()
        with self.opener.open(self.base + path, data, timeout=15) as response:
            return response.status, response.geturl(), response.read().decode()


def request_fields(**changes: str) -> dict[str, str]:
    from tests.factories import form_answers

    return {key: str(value) for key, value in form_answers(**changes).items()}
