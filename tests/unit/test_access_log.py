import io
import logging
import logging.config

import pytest

from app.access_log import access_log_config


@pytest.fixture
def access_log():
    """uvicorn's access logger configured as `companion serve` configures it, writing into a buffer."""
    logging.config.dictConfig(access_log_config())
    logger = logging.getLogger("uvicorn.access")
    buffer = io.StringIO()
    for handler in logger.handlers:
        handler.setStream(buffer)  # type: ignore[attr-defined]
    yield logger, buffer
    logger.handlers.clear()


def test_access_log_keeps_the_path_and_drops_the_users_words(access_log) -> None:
    logger, buffer = access_log
    path = "/v1/users/alice/memories/search?q=my+pin+4821"
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    line = buffer.getvalue()
    assert "/v1/users/alice/memories/search?…" in line
    assert "4821" not in line and "q=" not in line


def test_a_path_without_a_query_string_is_logged_as_it_is(access_log) -> None:
    logger, buffer = access_log
    logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/health", "1.1", 200)
    assert '"GET /health HTTP/1.1" 200' in buffer.getvalue()
