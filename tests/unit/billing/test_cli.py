from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from billing.cli import add_commands, run
from tests.conftest import make_settings


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="parley")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


def test_setup_without_a_stripe_key_says_which_variable_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(_args("billing", "setup"), make_settings(tmp_path)) == 2
    assert "PARLEY_STRIPE_SECRET_KEY" in capsys.readouterr().err


def test_setup_names_a_plans_file_that_cannot_be_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Settings refuse a bad plans file up front (test_plans_settings); the command checks again
    # for settings built some other way.
    settings = make_settings(tmp_path, stripe_secret_key="sk_test_x").model_copy(
        update={"billing_plans_file": tmp_path / "gone.toml"}  # copied, so not validated
    )
    assert run(_args("billing", "setup"), settings) == 2
    assert "cannot read plans file" in capsys.readouterr().err


def test_billing_needs_an_action() -> None:
    with pytest.raises(SystemExit):
        _args("billing")
