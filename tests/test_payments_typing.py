"""mypy --strict on the payments package: every call to Stripe is checked against the typed
parameters stripe-python ships (stripe.params), offline. A misspelt parameter fails here
before it could fail at Stripe."""

import fcntl
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROVIDER = ROOT / "portal" / "payments" / "stripe_provider.py"
# mypy's incremental cache (gitignored): reading stripe-python's types from scratch takes
# about 9 s, from the cache a fraction of a second. mypy checks again whatever changed since
# (files by content, and everything after a new mypy or new options), and it keeps a
# --shadow-file run's results apart from the real file's: a plain run after the shadow run
# reports the real file's errors, no more and no fewer (tried both ways round).
CACHE = ROOT / ".mypy_cache" / "payments-typing"

pytestmark = pytest.mark.slow


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    CACHE.mkdir(parents=True, exist_ok=True)
    # One mypy at a time on the cache: the two tests may run on two workers (or in two test
    # runs at once); the second waits for the first and then reads its cache.
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(CACHE), *args,
             "portal/payments"],
            cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_payments_package_passes_mypy_strict() -> None:
    result = mypy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def test_mypy_catches_a_parameter_stripe_does_not_know(tmp_path: Path) -> None:
    source = PROVIDER.read_text()
    anchor = '"customer_email": order.buyer_email,'
    assert anchor in source
    shadow = tmp_path / "stripe_provider.py"
    shadow.write_text(source.replace(anchor, anchor + ' "customer_mail": order.buyer_email,'))
    result = mypy("--shadow-file", str(PROVIDER), str(shadow))
    assert result.returncode == 1
    assert 'Extra key "customer_mail" for TypedDict "SessionCreateParams"' in result.stdout
