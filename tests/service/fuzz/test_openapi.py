"""Schemathesis against every service's OpenAPI document, with a valid token.

About 20 examples per operation from a fixed seed (`derandomize`), valid and invalid data: no
answer is a 5xx, every answer's status, content type, headers and body are the documented ones,
every error is problem+json, and a 405 names the allowed methods in `Allow`.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from contracts import taxonomy
from tests.harness import app_module
from tests.service.fuzz.conftest import SERVICES, Served

PROBLEM_JSON = "application/problem+json"
pytestmark = [
    # A fuzzing campaign of about half a minute: `make test-long`, not `make test`.
    pytest.mark.long,
    # Schemathesis draws some values with the `random` module; derandomize still fixes the seed.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]


@schemathesis.check
def errors_are_problems(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx and 5xx answer is an RFC 9457 problem."""
    if response.status_code >= 400:
        media = response.headers.get("content-type", [""])[0]
        assert media.startswith(PROBLEM_JSON), f"{response.status_code} answered as {media!r}"
        body = response.json()
        assert body["status"] == response.status_code and body["title"], body
    return None


@schemathesis.check
def method_not_allowed_names_allow(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code == 405:
        assert response.headers.get("allow"), "405 without an Allow header"
    return None


# Answers that never end (a live stream): tested on a real socket in their own tests.
ENDLESS = {"/v1/stream"}

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    errors_are_problems,
    method_not_allowed_names_allow,
]
FUZZ = settings(
    max_examples=10,  # per generation mode: about 20 an operation
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _operations() -> list[Any]:
    """(service, path, method) of every operation, from documents built without starting."""
    found = []
    for service in SERVICES:
        module = app_module(service)
        document = module.build_app(module.Settings()).openapi()
        for path, methods in document["paths"].items():
            if path in ENDLESS:
                continue
            for method, operation in methods.items():
                # Invalid data needs something to be invalid in: parameters or a body.
                takes_input = "parameters" in operation or "requestBody" in operation
                for mode in GenerationMode if takes_input else [GenerationMode.POSITIVE]:
                    label = f"{service} {method} {path} {mode}"
                    found.append(pytest.param(service, path, method, mode, id=label))
    return found


@pytest.mark.parametrize(("service", "path", "method", "mode"), _operations())
def test_operation_answers_as_documented(
    served: Served, service: str, path: str, method: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_dict(served.documents[service])
    operation = schema[path][method.upper()]

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Any) -> None:
        case.call_and_validate(
            base_url=served.urls[service], headers=served.headers, checks=CHECKS, timeout=30
        )

    fuzz()


def test_the_published_schema_says_what_is_checked(served: Served) -> None:
    """A client (or a fuzzer) can pick a valid category and write date-times as checked."""
    schemas = served.documents["offers"]["components"]["schemas"]
    for model in ("AssetDraft", "NeedDraft"):
        category = schemas[model]["properties"]["category"]
        assert sorted(category["enum"]) == sorted(taxonomy.CATEGORIES)
    window = schemas["DatedWindowIn"]["properties"]
    valid_from = schemas["OfferDraft"]["properties"]["valid_from"]["anyOf"][0]
    assert window["start"]["format"] == valid_from["format"] == "date-time"
