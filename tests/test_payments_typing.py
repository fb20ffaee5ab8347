"""mypy --strict on the payments package: every call to Stripe is checked against the typed
parameters stripe-python ships (stripe.params), offline. A misspelt parameter fails here
before it could fail at Stripe."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROVIDER = ROOT / "portal" / "payments" / "stripe_provider.py"

pytestmark = pytest.mark.slow


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *args,
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
