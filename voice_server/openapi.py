"""The OpenAPI document, made exact: stable operation ids, security schemes, problem-JSON errors,
multipart request bodies and summaries that say what a route does.

Litestar derives most of the document from the handlers. What it cannot see is added here, in one
place, from facts about each route (does it depend on the caller's ``principal``? does it read a
multipart form?) rather than by hand per route, so a new route is described correctly by default.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from litestar import Litestar, get
from litestar._openapi.plugin import OpenAPIPlugin  # the plugin that builds the document
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.response import File
from litestar.routes import HTTPRoute
from litestar.types import Method

from voice_server import __version__
from voice_server.problems import PROBLEM_MEDIA_TYPE

PROBLEM = "Problem"

# The pinned @scalar/api-reference build (see voice_server/api_docs/README.md, `make api-docs`).
SCALAR_VERSION = "1.76.0"
SCALAR = f"scalar-api-reference-{SCALAR_VERSION}"
ASSETS_DIR = Path(__file__).parent / "api_docs"
ASSETS_PATH = "/schema-assets"
# Versioned names never change content, so browsers may keep them for a year.
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


@get(f"{ASSETS_PATH}/{SCALAR}.js", include_in_schema=False, sync_to_thread=False)
def scalar_js() -> File:
    return File(ASSETS_DIR / f"{SCALAR}.js", media_type="text/javascript", headers=_IMMUTABLE)


@get(f"{ASSETS_PATH}/{SCALAR}.css", include_in_schema=False, sync_to_thread=False)
def scalar_css() -> File:
    return File(ASSETS_DIR / f"{SCALAR}.css", media_type="text/css", headers=_IMMUTABLE)


ASSET_ROUTES = [scalar_js, scalar_css]

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "userToken": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="A user's access token from POST /v1/auth/signup or /v1/auth/login "
        "(`Authorization: Bearer <token>`).",
    ),
    "secretKey": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="psk_<prefix>_<secret>",
        description="A secret API key for servers (`Authorization: Bearer psk_...`); shown once, "
        "when created. Never in a URL.",
    ),
    "publishableKey": SecurityScheme(
        type="apiKey",
        name="X-Parley-Key",
        security_scheme_in="header",
        description="A publishable widget key (`ppk_...`), bound to one bot; scopes `chat` and "
        "`feedback` only. Accepted only together with an allowed `Origin`.",
    ),
    "origin": SecurityScheme(
        type="apiKey",
        name="Origin",
        security_scheme_in="header",
        description="The page's origin; must be one of the publishable key's allowed origins.",
    ),
    "sessionToken": SecurityScheme(
        type="apiKey",
        name="token",
        security_scheme_in="query",
        description="A single-use voice session token (`pvt_...`) from "
        "POST /v1/bots/{bot_id}/sessions, spent when the voice WebSocket /v1/voice/ws opens "
        "(`?token=`); see docs/voice-protocol.md.",
    ),
}

PROBLEM_SCHEMA = Schema(
    type="object",  # type: ignore[arg-type]
    description="An RFC 9457 problem document; every error Parley returns has this shape.",
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type="string", description="A URI naming the kind of problem"),  # type: ignore[arg-type]
        "title": Schema(type="string", description="A short summary of the kind"),  # type: ignore[arg-type]
        "status": Schema(type="integer", description="The HTTP status"),  # type: ignore[arg-type]
        "detail": Schema(type="string", description="What went wrong, for this request"),  # type: ignore[arg-type]
        "instance": Schema(type="string", description="The request path"),  # type: ignore[arg-type]
        "request_id": Schema(type="string", description="Quote this when asking for help"),  # type: ignore[arg-type]
        "field": Schema(type="string", description="The first bad field, when input is invalid"),  # type: ignore[arg-type]
        "required_scope": Schema(type="string", description="The scope a 403 lacked"),  # type: ignore[arg-type]
    },
)

_ERRORS = {
    400: "Invalid input (the `detail` names the first bad field)",
    401: "No credential, or an unknown, expired or revoked one",
    403: "The credential lacks the scope or role this needs",
    404: "No such resource (or not visible to this credential)",
    413: "The body is larger than the limit",
    415: "The body is not of an accepted media type",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: "Not available now (starting, stopping, or a provider is not configured)",
}

# Publishable widget keys carry only the `chat` and `feedback` scopes: these are the routes a
# website visitor's key may call.
PUBLISHABLE_OPERATIONS = frozenset({"chat", "analyticsFeedback", "issueVoiceSession"})

# Routes that resolve the caller themselves rather than through the ``principal`` dependency: the
# WebRTC offer takes the voice WebSocket's credentials (its later PATCH/DELETE are authorized by
# the unguessable peer id alone, as WHIP resource URLs are).
EXPLICIT_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "voiceOffer": [{"sessionToken": []}, {"userToken": []}, {"secretKey": []}],
}

# Summaries for routes whose handlers carry none (Litestar would title-case the function name).
SUMMARIES = {
    "voiceTranscribe": "Transcribe an uploaded audio file to text",
    "voiceSpeak": "Synthesize speech from text (WAV, MP3 or OGG)",
    "voiceChat": "One spoken turn: audio in; transcript, reply text and reply audio out",
    "voiceHealth": "Which speech providers are configured and reachable",
    "voiceOffer": "Start a WebRTC voice call: send an SDP offer, receive the answer",
    "voiceCandidates": "Send trickled ICE candidates for a WebRTC call",
    "voiceHangUp": "End a WebRTC voice call",
    "billingStripeWebhook": "Receive a signed Stripe event (Stripe calls this, not clients)",
}

_BINARY = Schema(type="string", format="binary")  # type: ignore[arg-type]
_AUDIO_FORM = Schema(
    type="object",  # type: ignore[arg-type]
    required=["file"],
    properties={
        "file": Schema(
            type="string",  # type: ignore[arg-type]
            format="binary",  # type: ignore[arg-type]
            description="The audio (WAV, MP3, OGG/Opus, WebM, FLAC); the first file in the form",
        )
    },
)

MULTIPART_BODIES: dict[str, RequestBody] = {
    "documentsUpload": RequestBody(
        required=True,
        description="The file to add to the knowledge base (PDF, DOCX, HTML, Markdown, text…).",
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(
                    type="object",  # type: ignore[arg-type]
                    required=["file"],
                    properties={
                        "file": Schema(type="string", format="binary"),  # type: ignore[arg-type]
                        "title": Schema(type="string", description="Defaults to the file name"),  # type: ignore[arg-type]
                        "bot_id": Schema(
                            type="string",  # type: ignore[arg-type]
                            format="uuid",  # type: ignore[arg-type]
                            description="Only this bot uses the document; else every bot",
                        ),
                    },
                )
            )
        },
    ),
    **{
        operation_id: RequestBody(
            required=True,
            description="The audio: a multipart form, or the raw bytes (the format is detected).",
            content={
                "multipart/form-data": OpenAPIMediaType(schema=_AUDIO_FORM),
                "application/octet-stream": OpenAPIMediaType(schema=_BINARY),
            },
        )
        for operation_id in ("voiceTranscribe", "voiceChat")
    },
}


def _camel(words: list[str]) -> str:
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def operation_id(handler: HTTPRouteHandler, method: Method, path: list[str | Any]) -> str:
    """A stable id from the handler's name and its own tag: ``createBot``, ``keysRevoke``.

    The tag is kept only when the name does not already say it (``list_keys`` -> ``listKeys``),
    so ids read like the API and stay unique across packages (``chat`` vs ``voiceChat``)."""
    name = handler.handler_name.split(".")[-1].split(":")[-1]
    words = [w for w in name.split("_") if w]
    # The most specific layer's tag: the handler's own, else its controller's, else its package's.
    layers = reversed(list(handler.ownership_layers))
    tags = next((list(tags) for layer in layers if (tags := getattr(layer, "tags", None))), [""])
    tag = tags[0]
    stem = tag.rstrip("s")
    if tag and not any(w.rstrip("s") == stem for w in words):
        words = [tag, *words]
    return _camel([w.lower() for w in words])


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Parley",
        version=__version__,
        description="A self-hostable voice-first chatbot server. Errors are RFC 9457 problem "
        "documents (`application/problem+json`).",
        path="/schema",
        # Offline: the reference UI comes from assets committed in voice_server/api_docs, and
        # Scalar's web fonts (fonts.scalar.com) and Litestar's favicon (a CDN) are left out.
        render_plugins=[
            ScalarRenderPlugin(
                js_url=f"{ASSETS_PATH}/{SCALAR}.js",
                css_url=f"{ASSETS_PATH}/{SCALAR}.css",
                favicon="",
                options={"withDefaultFonts": False},
            )
        ],
        operation_id_creator=operation_id,
        components=Components(
            security_schemes=dict(SECURITY_SCHEMES),
        ),
    )


def _uses_principal(handler: HTTPRouteHandler) -> bool:
    """Whether the handler, or a dependency it names (transitively), takes ``principal``."""
    dependencies = handler.resolve_dependencies()
    seen: set[str] = set()
    todo = list(handler.parsed_fn_signature.parameters)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name == "principal":
            return True
        if (provider := dependencies.get(name)) is not None:
            todo.extend(provider.parsed_fn_signature.parameters)
    return False


def _problem_response(status: int) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=_ERRORS[status],
        content={
            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(
                schema=Reference(f"#/components/schemas/{PROBLEM}")
            )
        },
    )


def _refine_operation(operation: Operation, handler: HTTPRouteHandler, has_params: bool) -> None:
    op_id = operation.operation_id or ""
    if op_id in SUMMARIES:
        operation.summary = SUMMARIES[op_id]
    if operation.request_body is None and op_id in MULTIPART_BODIES:
        operation.request_body = MULTIPART_BODIES[op_id]
    statuses = [400] if (operation.request_body or operation.parameters or has_params) else []
    if op_id in EXPLICIT_SECURITY:
        operation.security = EXPLICIT_SECURITY[op_id]
        statuses += [401, 403, 429]
    elif _uses_principal(handler):
        operation.security = [{"userToken": []}, {"secretKey": []}]
        if op_id in PUBLISHABLE_OPERATIONS:
            operation.security.append({"publishableKey": [], "origin": []})
        statuses += [401, 403, 429]
    else:
        operation.security = []  # public: sign-up, log-in, health, the widget's config
    if has_params:
        statuses.append(404)
    if op_id in MULTIPART_BODIES:
        statuses += [413, 415]
    statuses.append(503)
    responses = dict(operation.responses or {})
    for status in statuses:
        responses[str(status)] = _problem_response(status)
    operation.responses = responses


def _distinct_titles(schemas: dict[str, Schema]) -> None:
    """Two models of one class name in different modules get their full names as titles:
    client generators name classes after titles and refuse duplicates."""
    titles = Counter(schema.title for schema in schemas.values())
    for key, schema in schemas.items():
        if schema.title and titles[schema.title] > 1:
            schema.title = "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def refine(openapi: OpenAPI, routes: dict[str, HTTPRoute]) -> OpenAPI:
    # Litestar replaces the configured component schemas with the ones it generated.
    schemas = {**(openapi.components.schemas or {}), PROBLEM: PROBLEM_SCHEMA}
    _distinct_titles(schemas)
    openapi.components.schemas = schemas
    for route in routes.values():
        item = (openapi.paths or {}).get(route.path_format or "/")
        if item is None:
            continue
        has_params = bool(route.path_parameters)
        for handler in route.route_handlers:
            for method in handler.http_methods:
                operation = getattr(item, method.lower(), None)
                if isinstance(operation, Operation):
                    _refine_operation(operation, handler, has_params)
    return openapi


class _RefiningOpenAPIPlugin(OpenAPIPlugin):
    """Litestar's OpenAPI plugin, refining the document once when it is first built."""

    __slots__ = ()

    def provide_openapi(self) -> OpenAPI:
        fresh = self._openapi is None
        openapi = super().provide_openapi()
        return refine(openapi, self.included_routes) if fresh else openapi


def install(app: Litestar) -> None:
    """Refine the document when Litestar builds it (lazily, on the first schema request)."""
    # Litestar adds its own plugin instance and has no public hook after the document is built;
    # specialising that instance keeps the refinement in one place for /schema/openapi.json, the
    # reference UIs and app.openapi_schema alike.
    app.plugins.get(OpenAPIPlugin).__class__ = _RefiningOpenAPIPlugin
