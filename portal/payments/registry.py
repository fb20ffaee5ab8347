"""The app's payment providers, bound in init_app: the portal asks for one by name.

Stripe keeps one client per app (its HTTP connections); the demo and invoice providers keep
their records in the portal's database, each call in a session and transaction of its own,
as a remote provider would. Every call that reaches a provider is checked not to run inside
the caller's database transaction (portal.uow.assert_no_transaction).
"""

from collections.abc import Callable
from typing import Any, cast

from flask import Flask, current_app

from portal import db as database
from portal.payments.models import PaymentProvider
from portal.payments.provider import PaymentProviderBackend, ProviderError
from portal.uow import assert_no_transaction

#: the methods that reach the provider (and may be slow)
NETWORK_CALLS = frozenset({
    "start_checkout", "fetch", "expire", "refund", "list_open_checkouts",
    "payment_intent_of_charge", "fetch_dispute",
})


class _Guarded:
    """A provider whose network calls refuse to run inside a database transaction."""

    def __init__(self, inner: PaymentProviderBackend) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in NETWORK_CALLS:
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            assert_no_transaction()
            return value(*args, **kwargs)

        return call


class Providers:
    def __init__(self, app: Flask) -> None:
        self._config = app.config
        self._factories: dict[str, Callable[[], PaymentProviderBackend]] = {
            PaymentProvider.STRIPE: self._stripe,
            PaymentProvider.DEMO: self._demo,
            PaymentProvider.INVOICE: self._invoice,
        }
        self._made: dict[str, PaymentProviderBackend] = {}

    def get(self, name: str) -> PaymentProviderBackend:
        if name not in self._factories:
            raise ProviderError(f"Unknown payment provider {name!r}.")
        if name not in self._made:
            self._made[name] = cast(PaymentProviderBackend, _Guarded(self._factories[name]()))
        return self._made[name]

    def _stripe(self) -> PaymentProviderBackend:
        from portal.payments.stripe_provider import StripeProvider

        config = self._config
        return StripeProvider(
            config.get("STRIPE_SECRET_KEY") or "",
            webhook_secret=config.get("STRIPE_WEBHOOK_SECRET"),
            api_base=config.get("STRIPE_API_BASE"),
            max_network_retries=int(config["STRIPE_MAX_NETWORK_RETRIES"]),
            timeout=float(config["STRIPE_TIMEOUT_SECONDS"]),
            checkout_origins=tuple(config["STRIPE_CHECKOUT_ORIGINS"]),
        )

    def _demo(self) -> PaymentProviderBackend:
        from portal.payments.demo import DemoProvider

        if self._config["ENV"] == "production":
            raise ProviderError("The demo payment provider is a stand-in and takes no real "
                                "payments; it is refused in production.")
        return DemoProvider(lambda: database.database().sessionmaker())

    def _invoice(self) -> PaymentProviderBackend:
        from portal.payments.invoice import InvoiceProvider

        return InvoiceProvider(lambda: database.database().sessionmaker(),
                               due_days=int(self._config["INVOICE_DUE_DAYS"]))


def init_app(app: Flask) -> None:
    app.extensions["portal.payments"] = Providers(app)


def provider(name: str) -> PaymentProviderBackend:
    """The provider called `name` ("stripe", "demo", "invoice")."""
    providers: Providers = current_app.extensions["portal.payments"]
    return providers.get(name)


def configured() -> PaymentProviderBackend:
    """The portal's own provider (PORTAL_PAYMENT_PROVIDER)."""
    return provider(str(current_app.config["PAYMENT_PROVIDER"]))
