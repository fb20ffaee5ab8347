"""Stand-ins for Stripe's hosted pages in the browser tests, and a watch for CSP violations.

The portal sends a buyer to the Checkout Session's ``url``, which the fake Stripe API
(tests/fake_stripe.py) gives as Stripe's real address, ``https://checkout.stripe.com/c/pay/<id>``,
and links a paid licence to the charge's ``receipt_url`` on ``https://pay.stripe.com/receipts/``.
This machine has no network, so Playwright's ``context.route`` answers those addresses from the
test process instead. The browser still sees the real origins, which is what matters: the
portal's Content-Security-Policy, its redirects and its links are checked against
checkout.stripe.com and pay.stripe.com as they will be in production.

* ``install_hosted_checkout``: the checkout page (amount, a "Pay" button, a "Back" link to the
  session's cancel_url). Paying marks the session paid in the fake, sends the signed
  ``checkout.session.completed`` webhook to the live portal (as Stripe would, from outside the
  browser) and redirects the browser to the session's success_url.
* ``install_receipts``: a receipt page for any receipt address.
* ``csp_watch``: the Content-Security-Policy violations a page reports, as a list to assert
  empty.
"""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Route

from tests.fake_stripe import FakeStripe

HOSTED_CHECKOUT = "https://checkout.stripe.com"
RECEIPTS = "https://pay.stripe.com/receipts/"
_PAGE = re.compile(r"/c/pay/(?P<session>cs_[A-Za-z0-9_]+)")
_CONFIRM = re.compile(r"/c/pay/(?P<session>cs_[A-Za-z0-9_]+)/confirm")


def _html(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title></head><body><main>{body}</main></body></html>")


def _amount(minor: int, currency: str) -> str:
    """``25000, "gbp"`` -> ``250.00 GBP`` (the portal's currencies have two decimals)."""
    return f"{minor / 100:,.2f} {currency.upper()}"


@dataclass
class HostedCheckout:
    """What the checkout stand-in did, for the test to assert on."""

    fake: FakeStripe
    portal_base: str
    send_webhook: bool = True
    #: every URL the stand-in answered with a page or a redirect, in order
    served: list[str] = field(default_factory=list)
    #: URLs under checkout.stripe.com it refused (404): the portal sent the buyer somewhere odd
    refused: list[str] = field(default_factory=list)
    #: (HTTP status, body) of each webhook delivered to the portal
    webhooks: list[tuple[int, str]] = field(default_factory=list)

    def handle(self, route: Route, request: Request) -> None:
        path = urlsplit(request.url).path
        page, confirm = _PAGE.fullmatch(path), _CONFIRM.fullmatch(path)
        if request.method == "GET" and page and page["session"] in self.fake.sessions:
            self.served.append(request.url)
            route.fulfill(status=200, content_type="text/html; charset=utf-8",
                          body=self._checkout_page(page["session"]))
        elif request.method == "POST" and confirm and confirm["session"] in self.fake.sessions:
            self.served.append(request.url)
            self._pay(route, confirm["session"])
        else:
            self.refused.append(request.url)
            route.fulfill(status=404, content_type="text/html; charset=utf-8",
                          body=_html("Not found (test stand-in)", "<h1>Not found</h1>"))

    def _checkout_page(self, session_id: str) -> str:
        session = self.fake.sessions[session_id]
        amount = _amount(session["amount_total"], session["currency"])
        back = (f'<p><a href="{html.escape(session["cancel_url"])}">Back</a></p>'
                if session.get("cancel_url") else "")
        if session["status"] != "open":
            return _html("Stripe Checkout (test stand-in)",
                         f"<h1>This checkout is {html.escape(session['status'])}</h1>{back}")
        return _html("Stripe Checkout (test stand-in)", f"""
            <p>Test stand-in for Stripe's hosted Checkout page. No card is asked for.</p>
            <h1>Pay {html.escape(amount)}</h1>
            <p>Amount: <strong>{html.escape(amount)}</strong></p>
            <form method="post" action="{HOSTED_CHECKOUT}/c/pay/{session_id}/confirm">
              <button type="submit">Pay</button>
            </form>
            {back}""")

    def _pay(self, route: Route, session_id: str) -> None:
        session = self.fake.sessions[session_id]
        if session["status"] != "open":
            route.fulfill(status=409, content_type="text/html; charset=utf-8",
                          body=_html("Stripe Checkout (test stand-in)",
                                     f"<h1>This checkout is {html.escape(session['status'])}</h1>"))
            return
        self.fake.pay(session_id)
        if self.send_webhook:
            self._deliver(self.fake.event("checkout.session.completed", self.fake.sessions[session_id]))
        route.fulfill(status=303, headers={"Location": session["success_url"]})

    def _deliver(self, event: dict[str, Any]) -> None:
        """POST the signed event to the portal's webhook, as Stripe does (not through the browser)."""
        payload = json.dumps(event).encode()
        request = urllib.request.Request(
            f"{self.portal_base}/webhooks/stripe", data=payload, method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": self.fake.sign(payload)})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                self.webhooks.append((response.status, response.read().decode(errors="replace")))
        except urllib.error.HTTPError as error:
            with error:
                self.webhooks.append((error.code, error.read().decode(errors="replace")))


def install_hosted_checkout(context: BrowserContext, fake: FakeStripe, *, portal_base: str,
                            send_webhook: bool = True) -> HostedCheckout:
    """Answer ``https://checkout.stripe.com/**`` in this browser context from ``fake``:
    ``GET /c/pay/<session id>`` (the page) and ``POST /c/pay/<session id>/confirm`` (Pay)."""
    hosted = HostedCheckout(fake, portal_base.rstrip("/"), send_webhook)
    context.route(f"{HOSTED_CHECKOUT}/**", hosted.handle)
    return hosted


def install_receipts(context: BrowserContext) -> list[str]:
    """Answer ``https://pay.stripe.com/receipts/**`` with a receipt page; returns the URLs served."""
    served: list[str] = []

    def handle(route: Route, request: Request) -> None:
        served.append(request.url)
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=_html(
            "Receipt (test stand-in)",
            f"<h1>Receipt (test stand-in)</h1><p>{html.escape(urlsplit(request.url).path)}</p>"))

    context.route(f"{RECEIPTS}**", handle)
    return served


_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__portalCspViolation(`${event.effectiveDirective} blocked ${event.blockedURI} `
                              + `on ${event.documentURI}`);
});
"""


def csp_watch(page: Page) -> list[str]:
    """The Content-Security-Policy violations ``page`` reports from now on, across navigations:
    Chromium's console messages ("Refused to ...", "... Content Security Policy ...") and, when
    JavaScript is on, the documents' ``securitypolicyviolation`` events. Call it before the
    first navigation you want watched."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            found.append(f"console: {message.text} (at {page.url})")

    page.on("console", on_console)
    page.expose_function("__portalCspViolation", lambda text: found.append(f"event: {text}"))
    page.add_init_script(_REPORT_VIOLATIONS)
    return found
