"""schemathesis against the OpenAPI document: whatever the document allows, the server answers
without a 5xx (as a centre operator, who may call everything)."""

import schemathesis
from hypothesis import HealthCheck, given, settings


def test_no_request_the_document_allows_gets_a_5xx(world):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", world.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    failures, calls = [], []
    for operation in operations:

        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call(headers=world.headers("operator"))
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query} {case.body!r}: {response.text}"
                )

        check()
    assert failures == []
    assert len(calls) > 10 * len(operations)  # it did explore
