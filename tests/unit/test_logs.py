from __future__ import annotations

import json
import logging
import sys

from voice_server.logs import JsonFormatter, RedactingFilter, redact
from voice_server.request_context import reset_request_id, set_request_id


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "parley.test", "levelname": "INFO", "msg": msg})
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_log_line_is_one_json_object_with_request_id_and_extras() -> None:
    token = set_request_id("req-123")
    try:
        line = JsonFormatter().format(_record("hello %s", status=200))
    finally:
        reset_request_id(token)
    entry = json.loads(line)
    assert entry["msg"] == "hello %s"
    assert entry["request_id"] == "req-123"
    assert entry["status"] == 200
    assert entry["level"] == "info"


def test_no_request_id_outside_a_request() -> None:
    assert "request_id" not in json.loads(JsonFormatter().format(_record("idle")))


def test_credentials_are_redacted_from_every_part_of_a_line() -> None:
    secret = "psk_k3x9a0c2m4qz_" + "S" * 40
    record = _record(
        '%s - "WebSocket %s" [accepted]',
        path=f"/v1/voice/ws?key={secret}",
    )
    record.args = ("127.0.0.1:5555", f"/v1/voice/ws?token=pvt_{'t' * 43}&key={secret}")
    try:
        raise ValueError(f"bad header Authorization: Bearer eyJhbGc.eyJzdWIiOiJ4In0.c2ln {secret}")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    line = JsonFormatter().format(record)
    for leaked in (secret, "pvt_ttt", "eyJzdWIi", "S" * 40):
        assert leaked not in line
    entry = json.loads(line)
    assert entry["msg"] == (
        '127.0.0.1:5555 - "WebSocket /v1/voice/ws?token=[redacted]&key=[redacted]" [accepted]'
    )
    assert entry["path"] == "/v1/voice/ws?key=[redacted]"
    assert "Bearer [redacted]" in entry["exc"]


def test_ordinary_words_are_left_alone() -> None:
    text = "keyboard=1 monkey=2 the token was fine; session.started"
    assert redact(text) == text
    assert redact("ppk_abcdefabcdef_" + "x" * 40 + " used") == "ppk_[redacted] used"
