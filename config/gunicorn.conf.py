"""gunicorn in production: `gunicorn -c config/gunicorn.conf.py` (installed with the `prod`
extra). Each setting can be changed from the environment, as systemd units do
(docs/deploying.md).

The web processes are stateless: run as many as the host carries, and as many hosts as
needed behind the proxy, against one PostgreSQL (and Redis for the rate limits).
"""

import os

wsgi_app = "portal:create_app()"
bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")

# Threaded workers: a request waiting on Stripe (at most about 11 s, see
# PORTAL_STRIPE_TIMEOUT_SECONDS) holds one thread, not a whole process. Two processes per core
# with four threads each suits a portal whose pages are short database reads.
worker_class = "gthread"
workers = int(os.environ.get("PORTAL_WEB_WORKERS", 2 * (os.cpu_count() or 1)))
threads = int(os.environ.get("PORTAL_WEB_THREADS", "4"))

# A worker silent for this long is restarted; it must be longer than the slowest legitimate
# request (a Stripe call with its one retry).
timeout = int(os.environ.get("PORTAL_WEB_TIMEOUT", "30"))
# On SIGTERM (a deploy), requests under way get this long to finish.
graceful_timeout = int(os.environ.get("PORTAL_WEB_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# A worker is replaced after this many requests (with jitter, so not all at once): memory
# that creeps up in a long-lived process is given back.
max_requests = int(os.environ.get("PORTAL_WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# Request lines and headers beyond these sizes are refused before the portal sees them.
limit_request_line = 4094
limit_request_fields = 100

# Behind nginx on the same host: trust its X-Forwarded-* headers (set PORTAL_PROXY_FIX_X_FOR=1
# too, so the portal sees the visitor's address and scheme).
forwarded_allow_ips = os.environ.get("PORTAL_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Access log on stdout (the journal collects it), with the request id the portal gives each
# response, and with status tokens and checkout keys masked.
accesslog = os.environ.get("PORTAL_ACCESS_LOG", "-")
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" id=%({x-request-id}o)s'
logger_class = "portal.access_log.MaskedAccessLogger"
