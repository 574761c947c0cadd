"""Property-based fuzzing of the whole OpenAPI schema (schemathesis): no input gets a 5xx, every response
(status, headers, body) conforms to the documented schema, and bad input is rejected with a 4xx.

Runs against the real app (real Redis, Chroma, embedder, checkpointer) with an admin key, so generated requests
reach the handlers instead of stopping at authentication. Bounded: a few dozen examples per operation.
"""

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, settings

from app.main import create_app
from app.schemas import MAX_MESSAGE_CHARS, TEXT_PATTERN
from companion.core.settings import load_settings
from tests.integration.api_helpers import make_key

# The schema is read from an app that is never started (``from_asgi`` would run its lifespan and leave an embedded
# Redis behind); requests go through the fixture's started client below.
UNSTARTED_APP = create_app(load_settings(data_dir=Path("/nonexistent-never-started")))


def fuzzable(openapi: dict[str, Any]) -> dict[str, Any]:
    """The schema with its security requirements taken out, and no null for query parameters (``without_null``).

    Every request here carries a valid admin key on purpose, so that generated data reaches the handlers.
    Left in, the requirements make schemathesis generate "negative" cases whose only fault is a missing
    Authorization header, and then count the app's 200 (the key is there after all) as invalid data accepted.
    Authentication itself is tested in test_api.py (missing, unknown, revoked, wrong user, wrong tenant).
    """
    stripped = copy.deepcopy(openapi)
    stripped.get("components", {}).pop("securitySchemes", None)
    stripped.pop("security", None)
    for operations in stripped["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "query":
                        without_null(parameter["schema"])
    return stripped


def without_null(schema: dict[str, Any]) -> None:
    """Drop ``{"type": "null"}`` from an optional query parameter's ``anyOf``: a query string has no null (a
    parameter that is None is left out), but schemathesis 4.15 sends it as the text ``null``.
    """
    options = schema.get("anyOf", [])
    if {"type": "null"} in options:
        options.remove({"type": "null"})


schema = schemathesis.openapi.from_dict(fuzzable(UNSTARTED_APP.openapi()))

EXAMPLES_PER_OPERATION = 30
OPENAPI = UNSTARTED_APP.openapi()


def takes_text(node: Any, seen: frozenset[str] = frozenset()) -> bool:
    """True when a request body or parameter list holds a field with the message-text pattern."""
    if isinstance(node, dict):
        if node.get("pattern") == TEXT_PATTERN:
            return True
        reference = node.get("$ref")
        if reference:
            return reference not in seen and takes_text(
                OPENAPI["components"]["schemas"][reference.rsplit("/", 1)[-1]], seen | {reference}
            )
        return any(takes_text(value, seen) for value in node.values())
    if isinstance(node, list):
        return any(takes_text(value, seen) for value in node)
    return False


#: Operations with a rule JSON Schema cannot say in a way the generator satisfies: a schema-valid request may get a
#: 4xx naming the rule (still never a 5xx, and every response must still match the schema).
#: A raw session needs at least one message with role "user" (``contains`` would say it, but schemathesis then
#: generates bodies that are not even objects).
#: Every text field (a message, a memory, a classified text, a search query) must keep visible text once terminal
#: codes and control characters are removed: zero-width-only, ANSI-only or C1-control-only text gets a 400.
RULES_BEYOND_THE_SCHEMA = {
    ("POST", "/v1/users/{user_id}/raw"),
    *(
        (method.upper(), path)
        for path, operations in OPENAPI["paths"].items()
        for method, operation in operations.items()
        if takes_text([operation.get("requestBody"), operation.get("parameters")])
    ),
    ("PATCH", "/v1/users/{user_id}/outreach/preferences"),  # a time zone must be one tzdata knows
    # a page cursor is whatever the previous page returned: any other text is a 400 naming the cursor
    *(
        (method.upper(), path)
        for path, operations in OPENAPI["paths"].items()
        for method, operation in operations.items()
        if any(parameter["name"] == "cursor" for parameter in operation.get("parameters", []))
    ),
}


#: The routes with a text field or parameter with ``TEXT_PATTERN`` (a subset of the rules above).
TEXT_ROUTES = {
    (method.upper(), path)
    for path, operations in OPENAPI["paths"].items()
    for method, operation in operations.items()
    if takes_text([operation.get("requestBody"), operation.get("parameters")])
}
TEXT_FIELDS = ("message", "text")
#: The search text's limit (``GET .../memories?q=``), as documented.
SEARCH_TEXT_MAX = next(
    option["maxLength"]
    for parameter in OPENAPI["paths"]["/v1/users/{user_id}/memories"]["get"]["parameters"]
    if parameter["name"] == "q"
    for option in parameter["schema"]["anyOf"]
    if option.get("type") == "string"
)


def breaks_text_rule(body: Any, query: Any = None) -> bool:
    """Whether a text field (or the search text) is one the documented rule rejects (NUL, nothing visible, too long).

    Checked here instead of by schemathesis on the text routes: schemathesis 4.15 merges ``pattern`` and
    ``maxLength`` into one pattern that demands a visible *last* character, then counts a valid text that ends in a
    space or a tab as invalid data the API should have refused.
    """
    texts = [(body[field], MAX_MESSAGE_CHARS) for field in TEXT_FIELDS if isinstance(body, dict) and field in body]
    if isinstance(query, dict) and "q" in query:
        texts.append((query["q"], SEARCH_TEXT_MAX))
    return any(
        isinstance(text, str) and (re.fullmatch(TEXT_PATTERN, text) is None or len(text) > limit)
        for text, limit in texts
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app started on a fresh data dir (high limits: this is about inputs, not throttling)."""
    data_dir = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        load_settings(data_dir=data_dir, redis_url=redis_url, max_message_chars=100_000, rate_limit_per_user=100_000)
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, make_key(redis_url, admin=True)


def checked(response: Any) -> schemathesis.Response:
    """A TestClient response as schemathesis reads it.

    schemathesis 4.15 (the newest that langgraph-api's jsonschema-rs cap allows) converts ``requests`` and ``httpx``
    responses only, and Starlette's TestClient answers with ``httpx2`` ones, which have the same fields.
    """
    sent = response.request
    request = requests.Request(
        method=sent.method, url=str(sent.url), headers=dict(sent.headers), data=sent.content
    ).prepare()
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        headers.setdefault(name, []).append(value)
    return schemathesis.Response(
        status_code=response.status_code,
        headers=headers,
        content=response.content,
        request=request,
        elapsed=response.elapsed.total_seconds(),
        verify=True,
        message=response.reason_phrase,
        http_version=response.http_version,
        encoding=response.encoding,
    )


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_input_gets_a_5xx_and_every_response_matches_the_schema(
    case: schemathesis.Case, live: tuple[TestClient, dict[str, str]]
) -> None:
    client, auth = live
    kwargs = case.as_transport_kwargs(headers=auth)
    kwargs.pop("base_url", None)
    # a header value that is not ASCII cannot be sent over HTTP at all (the client refuses it): nothing to test
    assume(all(str(value).isascii() for value in (kwargs.get("headers") or {}).values()))
    response = client.request(**kwargs)
    assert response.status_code < 500, response.text
    excluded: list[Any] = []
    if (case.method, case.path) in RULES_BEYOND_THE_SCHEMA:
        excluded.append(schemathesis.checks.positive_data_acceptance)
    if (case.method, case.path) in TEXT_ROUTES:
        excluded.append(schemathesis.checks.negative_data_rejection)
        if breaks_text_rule(case.body, case.query):
            assert 400 <= response.status_code < 500, response.text
    case.validate_response(checked(response), excluded_checks=excluded)


def test_every_text_route_is_known_to_have_a_rule_beyond_the_schema() -> None:
    # the derivation above must keep finding the text routes, or the fuzz run turns red on a C1-only text again
    text_routes = {("POST", "/v1/chat"), ("POST", "/v1/classify"), ("POST", "/v1/users/{user_id}/memories")}
    assert text_routes <= TEXT_ROUTES <= RULES_BEYOND_THE_SCHEMA
    assert ("GET", "/health") not in RULES_BEYOND_THE_SCHEMA


def test_the_text_rule_is_checked_as_documented() -> None:
    # the case schemathesis misjudged: visible text that ends in a vertical tab is valid
    assert not breaks_text_rule({"text": "9 B o=\x0b"})
    assert breaks_text_rule({"message": " \t\n"}) and breaks_text_rule({"text": "a\x00b"})
    assert breaks_text_rule({"text": "a" * (MAX_MESSAGE_CHARS + 1)}) and not breaks_text_rule({"user_id": "\x00"})
    assert breaks_text_rule(None, {"q": "a" * (SEARCH_TEXT_MAX + 1)}) and not breaks_text_rule(None, {"q": "dog "})
    assert ("GET", "/v1/users/{user_id}/memories") in TEXT_ROUTES
