"""The README's walkthrough, run literally against a started server, so it cannot rot.

The commands are the shell block after the `<!-- walkthrough -->` marker in README.md. Only two
things change: the server's address (a free port here) and `.venv/bin/python` (this test's own
interpreter, which is that venv's under `make test`)."""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from pathlib import Path

from tests.conftest import make_settings
from tests.support.server import serve_app
from voice_server.app import create_app

ROOT = Path(__file__).resolve().parents[3]
BLOCK = re.compile(r"<!-- walkthrough -->\s*```sh\n(.*?)```", re.DOTALL)


def walkthrough() -> str:
    found = BLOCK.search((ROOT / "README.md").read_text())
    assert found, "README.md has no <!-- walkthrough --> shell block"
    return found.group(1)


def test_the_walkthrough_has_the_five_steps() -> None:
    commands = [line for line in walkthrough().splitlines() if line.strip()]
    steps = [c for c in commands if "parley_client" in c]
    verbs = [re.search(r"parley_client (\w+)", c).group(1) for c in steps]  # type: ignore[union-attr]
    assert verbs == ["signup", "bot", "upload", "ask", "speak", "talk"]


async def test_the_walkthrough_runs_against_a_started_server(
    tmp_path: Path, database_url: str
) -> None:
    work = tmp_path / "clone"
    work.mkdir()
    shutil.copy(ROOT / "README.md", work / "README.md")
    settings = make_settings(tmp_path, database_url=database_url, rate_limit_auth_per_minute=0)
    async with serve_app(create_app(settings)) as url:
        script = walkthrough().replace("http://127.0.0.1:8000", url)
        script = script.replace(".venv/bin/python", sys.executable)
        process = await asyncio.create_subprocess_exec(
            "bash", "-euo", "pipefail", "-c", script, cwd=work,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=240)
    output = out.decode()
    assert process.returncode == 0, output + err.decode()
    lines = output.splitlines()
    assert re.fullmatch(r"[0-9a-f-]{36} ready", lines[0]), output  # the upload
    assert "Parley" in lines[1]  # the text answer quotes the README
    assert lines[2] == "question.wav"
    assert lines[3].startswith("you: ")
    assert lines[4].startswith("bot: ")
    assert len(lines[4]) > len("bot: ")
    assert (work / "answer.wav").read_bytes()[:4] == b"RIFF"
