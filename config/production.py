"""Production: everything secret comes from PORTAL_* environment variables."""

SESSION_COOKIE_SECURE = True
PAYMENT_PROVIDER = "stripe"
PREFERRED_URL_SCHEME = "https"
LOG_FORMAT = "json"  # one JSON object per line, for the log collector
