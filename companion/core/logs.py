"""Log output: human-readable lines by default, JSON objects with ``COMPANION_LOG_FORMAT=json``.

Each JSON record carries ``time``, ``level``, ``logger``, ``message`` and, inside a REST request, its ``request_id``
(the ``X-Request-ID`` the client sent or the one the service made, also returned in the response), so the lines of
one request can be found together. Nothing the user wrote is logged above DEBUG: log lines name users, ids and
counts, and the access log redacts query strings (``app/access_log.py``).
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["JSON_FIELDS", "configure_logging", "formatter_config", "request_id_filter_config"]

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
#: The fields of a JSON record, renamed to plain names.
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s"
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "correlation_id": "request_id"}


def formatter_config(log_format: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` formatter entry for ``log_format`` (``text`` or ``json``)."""
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        return {"()": JsonFormatter, "fmt": JSON_FIELDS, "rename_fields": _RENAMED}
    return {"format": TEXT_FORMAT}


def request_id_filter_config() -> dict[str, Any]:
    """A ``dictConfig`` filter entry that puts the current request's id on each record (``-`` outside requests)."""
    from asgi_correlation_id import CorrelationIdFilter

    return {"()": CorrelationIdFilter, "default_value": "-"}


def configure_logging(level: int, log_format: str) -> None:
    """Send the root logger's records to stderr at ``level`` in ``log_format``; replaces earlier handlers.

    Only the JSON format shows the request id, so only it imports the filter that finds it (``asgi_correlation_id``
    brings Starlette with it: a command-line run would pay for that at every start).
    """
    handler = logging.StreamHandler()
    if log_format == "json":
        from asgi_correlation_id import CorrelationIdFilter
        from pythonjsonlogger.json import JsonFormatter

        handler.addFilter(CorrelationIdFilter(default_value="-"))
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields=_RENAMED))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
