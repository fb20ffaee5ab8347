"""What /readyz reports: the database (required: without it the portal cannot serve), Redis
when configured (the rate limits fall back to memory without it), and how long the oldest
unsent e-mail has waited (the outbox worker may be stopped, or SMTP down)."""

from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask

from portal.db import utcnow
from portal.notifications.health import oldest_unsent_age

#: the oldest unsent e-mail is reported "delayed" once it has waited this long
MAIL_DELAYED_AFTER = timedelta(minutes=10)


@dataclass
class Readiness:
    ready: bool = True
    checks: dict[str, object] = field(default_factory=dict)

    def report(self) -> dict[str, object]:
        degraded = any(value in ("unreachable", "delayed") for value in self.checks.values())
        status = "unavailable" if not self.ready else "degraded" if degraded else "ok"
        return {"status": status, **self.checks}


def _redis_reachable(url: str) -> bool:
    import redis  # installed with limits[redis]

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def check(app: Flask) -> Readiness:
    result = Readiness()
    database = app.extensions["portal.db"]
    try:
        with database.sessionmaker() as db:
            age = oldest_unsent_age(db, utcnow())
    except Exception as error:  # noqa: BLE001 - any failure to reach the database: not ready
        app.logger.warning("readiness check failed: %s", str(error).splitlines()[0][:300])
        result.ready = False
        result.checks["database"] = "unreachable"
    else:
        result.checks["database"] = "reachable"
        seconds = 0 if age is None else max(0, int(age.total_seconds()))
        result.checks["oldest_unsent_mail_seconds"] = seconds
        result.checks["mail"] = "delayed" if age is not None and age > MAIL_DELAYED_AFTER \
            else "flowing"
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        result.checks["redis"] = "reachable" if _redis_reachable(redis_url) else "unreachable"
    return result
