"""A plans file that cannot be used is a settings error: one clear line at start-up, naming the
variable, the file, the plan and the key, instead of a lifespan traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voice_server.settings import SettingsError, load_settings

VALID = """
[plans.tiny]
name = "Tiny"
bots = 1
documents = 5
storage_bytes = 1_000_000
messages_per_month = 10
voice_minutes_per_month = 1
concurrent_voice_sessions = 1
"""


def settings_error(tmp_path: Path, **overrides: object) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, data_dir=tmp_path / "data", **overrides)
    return str(raised.value)


def plans_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plans.toml"
    path.write_text(text)
    return path


def test_a_plans_file_that_is_not_toml_is_named_in_one_line(tmp_path: Path) -> None:
    path = plans_file(tmp_path, "[plans.tiny\nbots = 1\n")
    message = settings_error(tmp_path, billing_plans_file=path)
    lines = message.splitlines()
    assert lines[0] == "invalid settings:"
    assert len(lines) == 2
    assert lines[1].startswith("  PARLEY_BILLING_PLANS_FILE: ")
    assert f"plans file {path} is not valid TOML" in lines[1]


def test_a_plan_missing_a_limit_names_the_plan_and_the_key(tmp_path: Path) -> None:
    path = plans_file(tmp_path, VALID.replace("bots = 1\n", ""))
    message = settings_error(tmp_path, billing_plans_file=path)
    assert "PARLEY_BILLING_PLANS_FILE" in message
    assert "plan 'tiny': missing bots" in message


def test_a_missing_plans_file_is_named(tmp_path: Path) -> None:
    message = settings_error(tmp_path, billing_plans_file=tmp_path / "nope.toml")
    assert "cannot read plans file" in message
    assert "nope.toml" in message


def test_a_default_plan_that_the_file_lacks_is_named(tmp_path: Path) -> None:
    message = settings_error(tmp_path, billing_default_plan="platinum")
    assert "PARLEY_BILLING_DEFAULT_PLAN: " in message
    assert "'platinum' is not a plan of the plans file" in message
    custom = plans_file(tmp_path, VALID)
    message = settings_error(tmp_path, billing_plans_file=custom)  # implied free/unlimited
    assert "PARLEY_BILLING_DEFAULT_PLAN: " in message
    assert "neither `free` nor `unlimited`" in message


def test_a_valid_plans_file_and_default_plan_load(tmp_path: Path) -> None:
    custom = plans_file(tmp_path, VALID)
    settings = load_settings(
        _env_file=None, data_dir=tmp_path, billing_plans_file=custom, billing_default_plan="tiny"
    )
    assert settings.billing_default_plan == "tiny"


def test_parley_serve_with_a_malformed_plans_file_prints_one_line_and_exits(
    tmp_path: Path,
) -> None:
    path = plans_file(tmp_path, VALID.replace("bots = 1", 'bots = "lots"'))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PARLEY_") and key != "DATABASE_URL"
    }
    env |= {"PARLEY_BILLING_PLANS_FILE": str(path), "PARLEY_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from voice_server.cli import main; sys.exit(main())",
            "serve",
        ],  # fmt: skip
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "parley: invalid settings:",
        f"  PARLEY_BILLING_PLANS_FILE: Value error, {path}: plan 'tiny': bots must be a "
        'non-negative integer or "unlimited"',
    ]
