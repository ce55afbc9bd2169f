from __future__ import annotations

from pathlib import Path

import asyncpg
import httpx

from tests.conftest import make_settings
from tests.support.postgres import create_database, with_database
from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.problems import PROBLEM_MEDIA_TYPE

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_metrics_are_prometheus_text(http: httpx.AsyncClient) -> None:
    await http.get("/healthz")
    response = await http.get("/metrics")
    content_type = response.headers["content-type"]
    assert content_type.startswith("text/plain")
    assert content_type.count("charset") == 1, content_type
    assert 'parley_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in (
        response.text
    )
    assert "parley_http_request_duration_seconds_bucket" in response.text


async def test_openapi_schema_is_served(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/schema/openapi.json")).json()
    assert schema["info"]["title"] == "Parley"
    assert "/readyz" in schema["paths"]


async def test_unknown_route_is_a_problem_document_with_request_id(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/no/such/thing", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["x-request-id"] == "trace-42"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["type"].endswith("/not-found")
    assert body["status"] == 404
    assert body["instance"] == "/no/such/thing"
    assert body["request_id"] == "trace-42"


async def test_wrong_method_is_a_problem_document(http: httpx.AsyncClient) -> None:
    response = await http.post("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"].endswith("/method-not-allowed")


async def test_forged_request_id_is_replaced(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz", headers={"X-Request-ID": 'x" injected="1'})
    assert response.headers["x-request-id"] != 'x" injected="1'
    assert len(response.headers["x-request-id"]) == 32


async def test_readyz_is_503_when_the_database_is_gone(
    tmp_path: Path, pg_admin_url: str, pg_template: str
) -> None:
    name = await create_database(pg_admin_url, template=pg_template)
    settings = make_settings(tmp_path, database_url=with_database(pg_admin_url, name))
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/readyz")).status_code == 200
        admin = await asyncpg.connect(pg_admin_url)
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        assert response.json()["type"].endswith("/database-unavailable")
        assert (await http.get("/healthz")).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert "parley_database_up 0.0" in metrics


async def test_readyz_is_503_when_migrations_are_behind(
    http: httpx.AsyncClient, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM parley_schema_migrations WHERE version = 1")
    finally:
        await conn.close()
    response = await http.get("/readyz")
    assert response.status_code == 503
    assert "parley migrate" in response.json()["detail"]
