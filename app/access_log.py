"""The access log without users' words: query strings are redacted before uvicorn writes a request line.

Search and listing endpoints take the user's words in the query string (``GET /v1/users/{id}/memories/search?q=``);
an access log at INFO would keep them in plain text wherever logs go. The path stays (it says which endpoint and
which user id was asked for); the query string becomes ``?…``.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from companion.core.logs import formatter_config, request_id_filter_config

__all__ = ["RedactQueryString", "access_log_config"]

#: uvicorn's access-log record args: (client address, method, full path, HTTP version, status code).
_PATH_ARG = 2


class RedactQueryString(logging.Filter):
    """Replaces the query string of an access-log record's path by ``?…``; the record itself is always kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the path argument in place; never drops the record."""
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARG:
            path = args[_PATH_ARG]
            if isinstance(path, str) and "?" in path:
                record.args = (*args[:_PATH_ARG], path.split("?", 1)[0] + "?…", *args[_PATH_ARG + 1 :])
        return True


def access_log_config(log_format: str = "text") -> dict[str, Any]:
    """Uvicorn's logging configuration with :class:`RedactQueryString` on the access log.

    With ``log_format="json"`` its lines are JSON objects like the service's own (``companion/core/logs.py``), each with
    the request's ``request_id``.
    """
    config = copy.deepcopy(LOGGING_CONFIG)
    filters = config.setdefault("filters", {})
    filters["redact_query_string"] = {"()": f"{__name__}.RedactQueryString"}
    config["handlers"]["access"].setdefault("filters", []).append("redact_query_string")
    if log_format == "json":
        filters["request_id"] = request_id_filter_config()
        for name in ("default", "access"):
            config["formatters"][name] = formatter_config("json")
            config["handlers"][name].setdefault("filters", []).append("request_id")
    return config
