"""Payments: one attempt to pay a quote with one provider (Stripe Checkout, invoice, demo).

provider.py is the interface, stripe_provider.py the only module that imports stripe,
services.py starts checkouts and applies what a provider reports (webhook or fetch-back).
"""
