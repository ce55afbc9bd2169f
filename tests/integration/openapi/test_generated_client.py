"""A client generated from /schema/openapi.json by openapi-python-client (a maintained, widely used
generator) drives sign-up -> bot -> document -> chat against a real server: the document is
exact enough to build on without reading Parley's code."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "parley_generated"


async def generate(url: str, workdir: Path) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        document = (await http.get("/schema/openapi.json")).json()
    spec = workdir / "openapi.json"
    spec.write_text(json.dumps(document))
    config = workdir / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the test needs the code only
    process = await asyncio.create_subprocess_exec(
        str(GENERATOR), "generate", "--path", str(spec), "--meta", "none",
        "--output-path", str(workdir / PACKAGE), "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()
    text = output.decode()
    # Only the JSON Lines export is beyond the generator (it has no ndjson support).
    warnings = [line for line in text.splitlines() if line.startswith("WARNING parsing")]
    assert warnings == ["WARNING parsing GET /v1/conversations/export within conversations."], text


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


async def test_a_generated_client_signs_up_makes_a_bot_uploads_and_chats(
    parley_url: str, generated: Path
) -> None:
    await generate(parley_url, generated)
    client_mod, models, types = module("client"), module("models"), module("types")
    sign_up = module("api.auth.auth_sign_up")
    create_bot = module("api.bots.create_bot")
    upload = module("api.documents.documents_upload")
    read = module("api.documents.documents_read")
    chat = module("api.chat.chat")

    anonymous = client_mod.Client(base_url=parley_url, raise_on_unexpected_status=True)
    async with anonymous:
        session = await sign_up.asyncio(
            client=anonymous,
            body=models.SignUpBody(
                email="ada@example.com", password="correct horse battery", tenant_name="Acme"
            ),
        )
        assert isinstance(session, models.SessionOut), session
        refused = await create_bot.asyncio(client=anonymous, body=models.BotCreate(name="x"))
        assert isinstance(refused, models.Problem)
        assert refused.status == 401

    owner = client_mod.AuthenticatedClient(
        base_url=parley_url, token=session.access_token, raise_on_unexpected_status=True
    )
    async with owner:
        bot = await create_bot.asyncio(
            client=owner, body=models.BotCreate(name="Helper", system_prompt="Be brief.")
        )
        assert isinstance(bot, models.BotOut), bot
        invalid = await create_bot.asyncio(client=owner, body=models.BotCreate(name=""))
        assert isinstance(invalid, models.Problem)
        assert invalid.status == 400

        text = b"The shop opens at nine and closes at five. Parking is free on Sundays."
        document = await upload.asyncio(
            client=owner,
            body=models.DocumentsUploadBody(
                file=types.File(payload=text, file_name="hours.txt", mime_type="text/plain"),
                title="Opening hours",
                bot_id=bot.id,
            ),
        )
        assert isinstance(document, models.DocumentsUploadResponse201), document
        doc_id = document.additional_properties["id"]
        status = ""
        for _ in range(400):
            found = await read.asyncio(document_id=doc_id, client=owner)
            status = found.additional_properties["status"]
            if status in ("ready", "failed"):
                break
            await asyncio.sleep(0.05)
        assert status == "ready"
        assert found.additional_properties["title"] == "Opening hours"

        answer = await chat.asyncio_detailed(
            bot_id=bot.id,
            client=owner,
            body=models.ChatIn(message="When does the shop open?", stream=False),
        )
        assert answer.status_code == 200, answer.content
        reply = json.loads(answer.content)
        assert reply["text"]
        assert reply["conversation_id"]
