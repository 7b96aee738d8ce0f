"""The sync endpoints fuzzed with Schemathesis against our OpenAPI document: whatever arrives,
the answer is documented, well-formed JSON and never a 500.

Half of the generated requests are re-signed with a real kiosk key on the way in (chosen by the
parity of the generated nonce), so the fuzzing reaches ingest's validation and not only the
signature check."""

from __future__ import annotations

import io
import time

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from core import protocol
from kiosk import identity
from tests.support.sync_helpers import enrolled

SIGNED_PATHS = ("/api/v1/sync/push", "/api/v1/sync/config", "/api/v1/sync/heartbeat")


class SignSome:
    """WSGI middleware: replace the fuzzed signature headers with valid ones for half the cases."""

    def __init__(self, app, credentials: identity.Credentials) -> None:
        self.app = app
        self.credentials = credentials
        self.seen: list[tuple[str, bool, str]] = []  # (path, re-signed, status line)

    def __call__(self, environ, start_response):
        nonce = environ.get("HTTP_X_SIPAS_NONCE", "")
        resign = environ.get("PATH_INFO") in SIGNED_PATHS and len(nonce) % 2 == 0
        if resign:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            headers = protocol.signed_headers(self.credentials, environ["REQUEST_METHOD"],
                                              environ["PATH_INFO"], body, time.time())
            for name, value in headers.items():
                environ["HTTP_" + name.upper().replace("-", "_")] = value

        def recording_start_response(status, headers, *args):
            self.seen.append((environ.get("PATH_INFO", ""), resign, status))
            return start_response(status, headers, *args)

        return self.app(environ, recording_start_response)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def test_sync_endpoints_answer_as_documented_and_never_with_a_500(demo, client):
    credentials = enrolled(client)
    signer = SignSome(demo.wsgi_app, credentials)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", signer)
    schema = schema.include(path_regex="^/api/v1/sync/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4
    for operation in operations:
        # Driven by Hypothesis directly (schemathesis' pytest plugin does not support pytest 9).
        @settings(max_examples=40, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case):
            case.call_and_validate(checks=CHECKS)

        fuzz()
    # The fuzzing got past the signature into validation and storage, not only refusals.
    reached = {status[:3] for path, resigned, status in signer.seen
               if resigned and path == "/api/v1/sync/push"}
    assert "200" in reached and reached - {"200"}


def test_the_document_lists_every_sync_endpoint(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/sync/enroll", "/api/v1/sync/push", "/api/v1/sync/config",
            "/api/v1/sync/heartbeat"} <= set(paths)
