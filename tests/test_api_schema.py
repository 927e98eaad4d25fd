"""The OpenAPI document is complete, and the API keeps its promises: schemathesis against it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .api_helpers import caller, deploy_via_api

PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/auth/token"),
    ("post", "/api/auth/session"),
    ("get", "/api/public/surveys/{token}"),
    ("post", "/api/public/surveys/{token}"),
    ("post", "/api/public/surveys/{token}/opt-out"),
}
# Operations whose schema-valid input can still break a rule the document cannot state (a deployment's
# files must be BPMN, an owner or manager must be an existing account, custom fields follow the firm's
# schema, and that schema must itself be a valid JSON Schema; a password must be hard to guess, and a
# password change needs the right current one, a second factor's code must be the app's current one; a
# message's payload may not carry the variables the firm's processes set themselves, such as `requester`
# or any `*_id`, engine.submissions.CONTROL_VARIABLES): 422 is the right answer there, so
# "valid input accepted" is not checked for them.
SEMANTIC_422 = (
    "/api/messages",
    "/api/deployments",
    "/api/clients",
    "/api/employees",
    "/api/settings/client-custom-fields",
    "/api/reports",
    "/api/report-schedules",
    "/api/accounts",
    "/api/me/password",
    "/api/me/totp",
    "/api/integration-accounts",  # a key expiry in the past
    "/api/finance/vouchers",  # a period the wrong way round or over a year
    "/api/webhooks",  # a URL that is not https, or resolves to a private or unknown address
    # Billing: amounts of more than two decimals, a total that is not net + tax, a payment above what is
    # outstanding, an engagement or invoice named in the body that does not exist, nothing to bill.
    "/api/engagements",
    "/api/invoices",
    "/api/payments",
)


@pytest.fixture
def services(services):
    services.register("ledger", lambda call: {"posted": 1})
    return services


def test_every_operation_documents_its_errors_and_security(app):
    document = app.test_client().get("/api/openapi.json").json
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue  # path-level parameters
            responses = operation["responses"]
            assert operation.get("summary"), f"{method} {path} has no summary"
            if (method, path) in PUBLIC:
                assert operation.get("security") == [], f"{method} {path} should be public"
            else:
                assert {"401", "403"} <= set(responses), f"{method} {path} lacks 401/403"
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    ref = response.get("$ref", "")
                    assert ref.startswith("#/components/responses/"), f"{method} {path} {status}"
            if operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "422" in responses, f"{method} {path} takes input but documents no 422"
    for name, response in document["components"]["responses"].items():
        if "content" in response:
            assert set(response["content"]) == {"application/problem+json"}, name


def test_api_conforms_to_its_document(app):
    """Generated requests against every operation: no 5xx, and every response matches the document."""
    client = app.test_client()
    admin = caller(client, "admin")
    deploy_via_api(admin, "two_tasks.bpmn", "intake-schema.json", "fragile.bpmn")
    admin.post("/api/process-instances", json={"process_key": "two_tasks", "variables": {"urgency": 1}})
    headers = {"Authorization": f"Bearer {admin.token}"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # PostgreSQL text cannot hold NUL, so the API refuses it everywhere (tested on its own).
    schema.config.generation.update(allow_x00=False)
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in {
            ("POST", "/api/auth/revoke"),
            ("DELETE", "/api/auth/session"),
        }:
            continue  # would revoke the token the run uses; covered in test_api_auth and test_browser_session
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def exercise(case):
            excluded = [positive_data_acceptance] if case.operation.path.startswith(SEMANTIC_422) else []
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        try:
            exercise()
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
