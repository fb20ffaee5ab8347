"""Test suite settings; tests pass further overrides to create_app()."""

SECRET_KEY = "test-secret"
BASE_URL = "http://localhost"
REPUBLISH_RATE_LIMIT = "1000 per minute"
REPUBLISH_RATE_LIMIT_EMAIL = "1000 per minute"
REPUBLISH_RATE_LIMIT_ARTICLE = "1000 per minute"
STATUS_TOKEN_RATE_LIMIT = "1000 per minute"
NEW_LINK_RATE_LIMIT = "1000 per minute"
# Every test signs in afresh; the throttling tests set their own limits.
STAFF_LOGIN_RATE_LIMIT_IP = "1000 per minute"
STAFF_LOGIN_RATE_LIMIT_ACCOUNT = "1000 per minute"
# A cheap argon2 profile: the suite signs in hundreds of times, and each sign-in at
# production strength costs a fifth of a second. Hashes carry their parameters, so hashes of
# either strength verify under either profile.
ARGON2_TIME_COST = 1
ARGON2_MEMORY_COST = 1024
ARGON2_PARALLELISM = 1
