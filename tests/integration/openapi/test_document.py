"""The OpenAPI document is exact: what a client generator needs is there, for every route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from voice_server.app import create_app

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
async def document(http: httpx.AsyncClient) -> dict[str, Any]:
    response = await http.get("/schema/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


async def test_operation_ids_are_unique_stable_and_readable(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids)) >= 50
    by_route = {f"{m} {p}": op["operationId"] for m, p, op in operations(document)}
    # Client code calls these by name: renaming one is a breaking change.
    assert by_route["POST /v1/auth/signup"] == "authSignUp"
    assert by_route["POST /v1/bots"] == "createBot"
    assert by_route["POST /v1/documents"] == "documentsUpload"
    assert by_route["POST /v1/bots/{bot_id}/chat"] == "chat"
    assert by_route["POST /v1/voice/chat"] == "voiceChat"
    assert by_route["DELETE /v1/keys/{key_id}"] == "keysRevoke"
    assert by_route["DELETE /v1/invitations/{invitation_id}"] == "membersRevoke"


async def test_every_operation_has_tags_and_a_real_summary(document: dict[str, Any]) -> None:
    for method, path, op in operations(document):
        assert op.get("tags"), (method, path)
        summary = op.get("summary", "")
        # Litestar's fallback is the title-cased function name ("Chat", "HangUp").
        assert " " in summary, (method, path, summary)


async def test_multipart_routes_describe_their_bodies(document: dict[str, Any]) -> None:
    paths = document["paths"]
    upload = paths["/v1/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["required"] == ["file"]
    assert upload["schema"]["properties"]["file"] == {"type": "string", "format": "binary"}
    assert set(upload["schema"]["properties"]) == {"file", "title", "bot_id"}
    for path in ("/v1/voice/transcribe", "/v1/voice/chat"):
        content = paths[path]["post"]["requestBody"]["content"]
        assert set(content) == {"multipart/form-data", "application/octet-stream"}, path
    missing = [
        (m, p)
        for m, p, op in operations(document)
        if m in {"POST", "PATCH"} and "requestBody" not in op
    ]
    # Routes that take no body at all (an action on a resource).
    assert set(missing) <= {
        ("POST", "/v1/auth/logout"),
        ("POST", "/v1/bots/{bot_id}/duplicate"),
        ("POST", "/v1/bots/{bot_id}/sessions"),
        ("POST", "/v1/billing/subscription/cancel"),
        ("POST", "/v1/billing/portal"),
        ("POST", "/v1/billing/webhooks/stripe"),
        ("POST", "/v1/documents/{document_id}/resync"),
        ("POST", "/v1/documents/{document_id}/retry"),
    }, missing


async def test_security_schemes_and_requirements(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["userToken"]["scheme"] == "bearer"
    assert schemes["secretKey"]["scheme"] == "bearer"
    assert (schemes["publishableKey"]["in"], schemes["publishableKey"]["name"]) == (
        "header",
        "X-Parley-Key",
    )
    assert schemes["origin"]["name"] == "Origin"
    assert (schemes["sessionToken"]["in"], schemes["sessionToken"]["name"]) == ("query", "token")
    paths = document["paths"]
    assert paths["/v1/auth/signup"]["post"]["security"] == []
    assert paths["/healthz"]["get"]["security"] == []
    assert paths["/v1/bots"]["post"]["security"] == [{"userToken": []}, {"secretKey": []}]
    assert {"publishableKey": [], "origin": []} in paths["/v1/bots/{bot_id}/chat"]["post"][
        "security"
    ]
    assert {"publishableKey": [], "origin": []} not in paths["/v1/keys"]["get"]["security"]
    assert {"sessionToken": []} in paths["/v1/voice/webrtc/offer"]["post"]["security"]


async def test_errors_are_described_as_problem_json(
    document: dict[str, Any], http: httpx.AsyncClient
) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    ref = {"$ref": "#/components/schemas/Problem"}
    for method, path, op in operations(document):
        responses = op["responses"]
        assert "503" in responses, (method, path)
        if op["security"]:
            assert {"401", "403", "429"} <= set(responses), (method, path)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/problem+json"]["schema"] == ref
    # And the server answers as documented.
    refused = await http.get("/v1/bots")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert set(problem["required"]) <= set(refused.json())


def test_the_document_builds_without_a_server(tmp_path: Any) -> None:
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path))
    schema = app.openapi_schema.to_schema()
    assert "Problem" in schema["components"]["schemas"]
