"""Web pages and Google Drive folders as knowledge sources, against local servers and fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar, Response, get

from rag.errors import FetchRefused
from rag.services import RagServices
from rag.sources.web import fetch_page
from tests.fakes.drive import FakeDrive
from tests.integration.rag.conftest import TenantBot, drain
from tests.support.server import serve_app
from tests.unit.rag.documents import make_docx
from voice_server.errors import PayloadTooLarge

FOLDER = "folder-handbook"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/secret",
        "http://localhost/admin",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "file:///etc/passwd",
    ],
)
async def test_private_and_non_http_urls_are_refused(
    services: RagServices, tenant: TenantBot, url: str
) -> None:
    with pytest.raises(FetchRefused):
        await services.ingestion.add_url(
            tenant_id=tenant.tenant_id, bot_id=None, url=url, title=None
        )


@pytest.fixture
async def site() -> AsyncIterator[str]:
    @get("/faq")
    async def faq() -> Response[bytes]:
        html = (
            b"<html><head><title>Shop FAQ</title></head><body><h1>FAQ</h1><h2>Shipping</h2>"
            b"<p>Parcels ship within two working days.</p></body></html>"
        )
        return Response(html, media_type="text/html")

    @get("/old")
    async def old() -> Response[Any]:
        return Response(b"", status_code=301, headers={"location": "/faq"})

    @get("/huge")
    async def huge() -> Response[bytes]:
        return Response(b"<p>" + b"x" * 50_000 + b"</p>", media_type="text/html")

    async with serve_app(Litestar([faq, old, huge], logging_config=None)) as url:
        yield url


async def test_a_web_page_is_fetched_parsed_and_cited_with_its_url(
    services: RagServices, tenant: TenantBot, site: str
) -> None:
    services.ingestion.settings = services.settings.model_copy(
        update={"rag_allow_private_urls": True}
    )
    submitted = await services.ingestion.add_url(
        tenant_id=tenant.tenant_id, bot_id=None, url=f"{site}/old", title=None
    )
    await drain(services)
    [hit] = await services.retriever.search(tenant.tenant_id, "how fast do parcels ship")
    assert hit.document_id == submitted.document.id
    assert hit.title == "Shop FAQ"
    assert hit.url == f"{site}/faq"  # after the redirect
    assert hit.location == "FAQ > Shipping"


async def test_a_page_over_the_size_limit_is_refused(site: str) -> None:
    with pytest.raises(PayloadTooLarge):
        await fetch_page(f"{site}/huge", max_bytes=10_000, timeout_s=5, allow_private=True)


@pytest.fixture
async def drive(services: RagServices) -> AsyncIterator[FakeDrive]:
    fake = FakeDrive()
    async with fake.serve() as url:
        services.ingestion.settings = services.settings.model_copy(
            update={"rag_drive_base_url": url, "rag_drive_token_url": f"{url}/token"}
        )
        yield fake


async def _sync(services: RagServices, tenant: TenantBot, token: str = "ya29.valid-token") -> Any:
    source = await services.ingestion.add_drive_folder(
        tenant_id=tenant.tenant_id, bot_id=None, folder_id=FOLDER,
        credentials={"access_token": token},
    )  # fmt: skip
    await drain(services)
    return source


async def _titles(services: RagServices, tenant: TenantBot) -> dict[str, str]:
    docs = await services.documents.list_documents(tenant.tenant_id)
    return {d.title: d.status for d in docs}


async def test_drive_folder_sync_exports_docs_downloads_files_and_resyncs(
    services: RagServices, tenant: TenantBot, drive: FakeDrive
) -> None:
    policy = drive.add("Leave policy", "Employees get 28 days of paid leave.", folder=FOLDER)
    drive.add(
        "Expenses.docx",
        make_docx("Expenses", [("Travel", ["Trains are reimbursed in second class."])]),
        folder=FOLDER,
        mime_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    old = drive.add("Old memo", "Parking is free on Fridays.", folder=FOLDER)
    drive.add("Elsewhere", "Not in this folder.", folder="another-folder")
    drive.add("Photo.png", b"\x89PNG....", folder=FOLDER, mime_type="image/png")

    source = await _sync(services, tenant)
    assert await _titles(services, tenant) == {
        "Leave policy": "ready", "Expenses.docx": "ready", "Old memo": "ready",
    }  # fmt: skip
    hits = await services.retriever.search(tenant.tenant_id, "paid leave days")
    assert hits[0].title == "Leave policy"
    assert hits[0].url == f"https://drive.google.com/file/d/{policy.id}/view"
    row = await services.ingestion.drive_sources.get(tenant.tenant_id, source.id)
    assert row is not None
    assert row.status == "ready"
    assert row.file_count == 3
    assert row.error is not None
    assert "Photo.png" in row.error  # skipped, and said so

    # The owner edits one file and deletes another; a re-sync follows.
    drive.change(policy.id, "Employees get 30 days of paid leave.")
    del drive.files[old.id]
    exports_before = sum(r.startswith(("export", "get")) for r in drive.requests)
    await services.ingestion.resync_drive(tenant.tenant_id, source.id)
    await drain(services)
    assert set(await _titles(services, tenant)) == {"Leave policy", "Expenses.docx"}
    hits = await services.retriever.search(tenant.tenant_id, "paid leave days")
    assert "30 days" in hits[0].content
    # Only the changed file was downloaded again.
    assert sum(r.startswith(("export", "get")) for r in drive.requests) == exports_before + 1


async def test_a_token_revoked_midway_stops_the_sync_and_deletes_nothing(
    services: RagServices, tenant: TenantBot, drive: FakeDrive
) -> None:
    for n in range(5):
        drive.add(f"Doc {n}", f"Document number {n} about topic {n}.", folder=FOLDER)
    source = await _sync(services, tenant)
    assert len(await _titles(services, tenant)) == 5

    for file_id in list(drive.files)[:3]:
        drive.change(file_id, "Changed text.")
    drive.revoke_after = 3  # the listing's first page and one download go through, then 401
    await services.ingestion.resync_drive(tenant.tenant_id, source.id)
    await drain(services)
    row = await services.ingestion.drive_sources.get(tenant.tenant_id, source.id)
    assert row is not None
    assert row.status == "failed"
    assert row.error is not None
    assert "revoked or expired" in row.error
    assert len(await _titles(services, tenant)) == 5  # nothing deleted on a partial listing

    # Reconnecting with a fresh token resumes.
    drive.revoke_after = None
    drive.tokens.add("ya29.new-token")
    await services.ingestion.resync_drive(
        tenant.tenant_id, source.id, {"access_token": "ya29.new-token"}
    )
    await drain(services)
    row = await services.ingestion.drive_sources.get(tenant.tenant_id, source.id)
    assert row is not None
    assert row.status == "ready"


async def test_service_account_credentials_are_exchanged_for_a_token(
    services: RagServices, tenant: TenantBot, drive: FakeDrive
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    drive.add("Handbook", "The office opens at eight.", folder=FOLDER)
    await services.ingestion.add_drive_folder(
        tenant_id=tenant.tenant_id,
        bot_id=None,
        folder_id=FOLDER,
        credentials={"service_account": {"client_email": "sa@x.iam", "private_key": pem}},
    )
    await drain(services)
    assert await _titles(services, tenant) == {"Handbook": "ready"}
