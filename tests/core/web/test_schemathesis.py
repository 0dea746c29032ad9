"""schemathesis against the OpenAPI document, whose request and response schemas are real:
whatever the document allows, the server answers without a 5xx (as a centre operator, who may
call everything), and every answer it documents matches its published schema.

The suite runs a short round. The long one (over 20,000 requests) is the same test:

    GRIDCASE_SCHEMATHESIS_EXAMPLES=1500 .venv/bin/python -m pytest tests/core/web/test_schemathesis.py -k sqlite -s
"""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES = int(os.environ.get("GRIDCASE_SCHEMATHESIS_EXAMPLES", "15"))


def test_no_request_the_document_allows_gets_a_5xx_or_an_undocumented_answer(world):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", world.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    failures, calls = [], []
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(headers=world.headers("operator"))
            calls.append(response.status_code)
            try:
                case.validate_response(response, checks=(not_a_server_error, response_schema_conformance))
            except AssertionError as failed:  # schemathesis's failures are AssertionErrors
                failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r}: {failed}")

        check()
    print(f"schemathesis: {len(calls)} requests, {len(failures)} failures")
    assert failures == []
    assert len(calls) > 10 * len(operations)  # it did explore
