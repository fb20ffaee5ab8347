"""Test suite settings; tests pass further overrides to create_app()."""

SECRET_KEY = "test-secret"
BASE_URL = "http://localhost"
REPUBLISH_RATE_LIMIT = "1000 per minute"
# Every test signs in afresh; the throttling tests set their own limits.
STAFF_LOGIN_RATE_LIMIT_IP = "1000 per minute"
STAFF_LOGIN_RATE_LIMIT_ACCOUNT = "1000 per minute"
