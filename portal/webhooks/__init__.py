"""Endpoints that payment providers call: thin views over portal.payments.services."""
