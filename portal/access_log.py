"""gunicorn's access log without secrets: the request line, path, query and referrer of each
line go through the same masking as the portal's own logs (status tokens, checkout return
keys, token= values). Named in config/gunicorn.conf.py as its ``logger_class``."""

from typing import Any

from gunicorn.glogging import Logger

from portal.logs import redact

_MASKED_ATOMS = ("r", "U", "q", "f", "{referer}i")


class MaskedAccessLogger(Logger):  # type: ignore[misc]
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
              ) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in _MASKED_ATOMS:
            value = atoms.get(key)
            if isinstance(value, str):
                atoms[key] = redact(value)
        return atoms
