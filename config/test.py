"""Test suite settings; tests pass further overrides to create_app()."""

SECRET_KEY = "test-secret"
BASE_URL = "http://localhost"
REPUBLISH_RATE_LIMIT = "1000 per minute"
