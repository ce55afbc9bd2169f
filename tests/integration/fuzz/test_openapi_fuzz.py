"""Property-based fuzzing of every HTTP operation in the OpenAPI document (schemathesis).

The whole app runs on a real port; each package's operations get schema-valid and schema-invalid
requests (schemathesis' positive and negative generation) with an owner's credentials, so that
they get past authentication. For every response:

- no 5xx: bad input is the client's problem and must be answered as such;
- every 4xx is an RFC 9457 problem document (`application/problem+json` with `type`, `title` and
  a `status` equal to the response's);
- a 2xx body matches the schema the OpenAPI document gives for that status.

Generation is derandomized and bounded (``EXAMPLES`` per operation and mode, no shrinking), so
CI sends the same requests every run. Not fuzzed: the WebSocket routes (`/v1/voice/ws`,
`/v1/bots/{id}/chat/ws`), which are not in the OpenAPI document and have protocol tests of their
own. The Stripe webhook is fuzzed, but only ever sees unsigned requests (a fuzzer cannot sign):
what it shows is that bad input gets a problem document; signed events are billing's tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import APIOperation, Case, CheckContext, CheckFunction, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.support.tenants import TenantKeys, create_tenant

EXAMPLES = 15  # per operation and generation mode
PACKAGES = ["operations", "dashboard_api", "billing", "rag", "voice", "web"]  # the routers' tags
PROBLEM_JSON = "application/problem+json"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


class NotProblemJson(Failure):
    def __init__(self, *, operation: str, message: str, case_id: str | None = None) -> None:
        self.operation = operation
        self.title = "Error response is not problem JSON"
        self.message = message
        self.case_id = case_id

    @property
    def _unique_key(self) -> str:
        return self.message


def problem_json(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error is an RFC 9457 problem document."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    body: Any = None
    with contextlib.suppress(ValueError):
        body = json.loads(response.content)
    fields_ok = isinstance(body, dict) and all(k in body for k in ("type", "title", "status"))
    if not (
        content_type.startswith(PROBLEM_JSON)
        and fields_ok
        and body["status"] == response.status_code
    ):
        raise NotProblemJson(
            operation=case.operation.label,
            message=f"{response.status_code} {content_type!r}: {response.content[:300]!r}",
        )
    return True


def success_conforms(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A 2xx body matches its documented schema. Error bodies are held to ``problem_json``
    instead: the document describes 400s with Litestar's default shape, not the problem
    documents every Parley error is."""
    if response.status_code >= 300:
        return None
    return response_schema_conformance(ctx, response, case)


CHECKS: list[CheckFunction] = [not_a_server_error, problem_json, success_conforms]


def strict_request_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """Request bodies are msgspec Structs with ``forbid_unknown_fields``: an unknown field is a
    400. Litestar 2.25 leaves that out of the document (no ``additionalProperties: false``), so
    without this most "valid" bodies would carry an extra field, stop at decoding and never
    reach the handler. Closing the schemas only narrows what is generated."""
    components = document.get("components", {}).get("schemas", {})
    prefix = "#/components/schemas/"
    seen: set[str] = set()

    def close(schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        ref = schema.get("$ref", "")
        if ref.startswith(prefix) and ref not in seen:
            seen.add(ref)
            close(components.get(ref.removeprefix(prefix)))
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for child in schema.get("properties", {}).values():
            close(child)
        close(schema.get("items"))
        for key in ("oneOf", "anyOf", "allOf"):
            for child in schema.get(key, []):
                close(child)

    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict):
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    close(media.get("schema"))
    return document


@dataclass
class Report:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    requests: int = 0


@dataclass(frozen=True)
class Caller:
    owner: TenantKeys
    # Logging out ends the session its token belongs to: that one is a spare owner's.
    spare: TenantKeys

    def headers(self, operation: APIOperation) -> dict[str, str]:
        if operation.path == "/v1/auth/logout":
            return self.spare.user_headers
        return self.owner.user_headers

    def fixed(self, operation: APIOperation) -> dict[str, Any]:
        """Bot ids point at the owner's real bot, so that input gets past the lookup and reaches
        the handler. DELETE keeps generated ids: deleting the bot would leave nothing to fuzz."""
        bot_id = str(self.owner.bot_id)
        fixed: dict[str, Any] = {}
        if operation.method.upper() == "DELETE":
            return fixed
        if "bot_id" in {p.name for p in operation.path_parameters}:
            fixed["path_parameters"] = {"bot_id": bot_id}
        if "bot_id" in {p.name for p in operation.query}:
            fixed["query"] = {"bot_id": bot_id}
        return fixed


def fuzz_operation(
    operation: APIOperation,
    mode: GenerationMode,
    base_url: str,
    caller: Caller,
    session: requests.Session,
    report: Report,
) -> None:
    headers = caller.headers(operation)
    counts = report.statuses.setdefault(operation.label, Counter())

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, **caller.fixed(operation)))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    def run(case: Case) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        report.requests += 1
        counts[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # nothing to make invalid: the operation takes no input
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is the latter
        report.failures.append(f"{operation.label} [{mode.value}]: {exc}")


def fuzz(base_url: str, package: str, caller: Caller) -> Report:
    document = requests.get(f"{base_url}/schema/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(strict_request_bodies(document))
    operations = [
        result.ok() for result in schema.get_all_operations() if package in result.ok().tags
    ]
    operations.sort(key=lambda op: op.path == "/v1/auth/logout")  # ends a session: last
    report = Report()
    with requests.Session() as session:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz_operation(operation, mode, base_url, caller, session, report)
    return report


async def test_every_operation_belongs_to_a_fuzzed_package(http: httpx.AsyncClient) -> None:
    document = (await http.get("/schema/openapi.json")).json()
    untagged = [
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and not set(operation.get("tags", [])) & set(PACKAGES)
    ]
    assert not untagged, f"add their package to PACKAGES: {untagged}"


@pytest.mark.parametrize("package", PACKAGES)
async def test_no_server_errors_and_every_error_is_problem_json(
    package: str, server_url: str, database_url: str
) -> None:
    owner = await create_tenant(database_url, name="Acme", plan="unlimited")
    spare = await create_tenant(database_url, name="Spare", plan="unlimited")
    report = await asyncio.to_thread(fuzz, server_url, package, Caller(owner, spare))
    for label, counts in report.statuses.items():
        print(f"{label}: {dict(sorted(counts.items()))}")
    print(f"{package}: {report.requests} requests, {len(report.statuses)} operations")
    assert report.statuses, f"no operation is tagged {package}"
    assert not report.failures, "\n\n".join(report.failures)
