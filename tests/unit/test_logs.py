from __future__ import annotations

import json
import logging

from voice_server.logs import JsonFormatter
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
