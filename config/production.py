"""Production: everything secret comes from PORTAL_* environment variables."""

SESSION_COOKIE_SECURE = True
PAYMENT_PROVIDER = "stripe"
PREFERRED_URL_SCHEME = "https"
