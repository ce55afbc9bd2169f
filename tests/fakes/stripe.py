"""A fake Stripe API on 127.0.0.1 that speaks Stripe's wire protocol, for the official SDK.

Form-encoded bodies with bracket notation (``metadata[tenant_id]=…``, ``items[0][price]=…``),
Stripe-shaped JSON objects and lists, Stripe error objects (``{"error": {"type", "code",
"message", "param"}}``), ``Idempotency-Key`` replays, and the resources Parley uses: customers,
products, prices (with lookup keys), billing meters and meter events (deduplicated by
``identifier``), Checkout and billing-portal sessions, subscriptions, invoices.

Tests drive it from the outside: ``outage`` answers every request with a 500 (no side effect),
``lose_responses`` processes requests but answers 500 (the client never learns it succeeded),
``latency_s`` delays each answer, and ``complete_checkout`` / ``event`` build what Stripe would
send to a webhook endpoint.

    async with FakeStripe.running() as fake:
        client = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.url}, ...)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

API_VERSION = "2025-10-29.clover"
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class StripeFailure(Exception):
    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error",
        code: str | None = None, param: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


def _missing(kind: str, object_id: str, param: str = "id") -> StripeFailure:
    return StripeFailure(
        404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Bracket notation to nested dicts; dicts whose keys are all indexes become lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        if not parts:
            continue
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends with a webhook payload."""
    ts = int(time.time()) if timestamp is None else timestamp
    signed = f"{ts}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


@dataclass
class FakeStripe:
    api_key: str = "sk_test_fake"
    latency_s: float = 0.0
    outage: bool = False
    lose_responses: bool = False
    url: str = ""
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by identifier
    meter_event_posts: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    _idempotent: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # --- running -------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def running(cls, **options: Any) -> AsyncIterator[FakeStripe]:
        fake = cls(**options)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(fake, log_config=None, access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        server.capture_signals = _no_signals  # type: ignore[method-assign]
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
            yield fake
        finally:
            server.should_exit = True
            await task
            sock.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        self.requests.append((method, path))
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        status, payload, extra = self.handle(
            method, path, scope.get("query_string", b"").decode(), body.decode(), headers
        )
        raw = json.dumps(payload).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"request-id", f"req_{secrets.token_hex(7)}".encode()),
            (b"stripe-version", API_VERSION.encode()),
            *[(k.encode(), v.encode()) for k, v in extra.items()],
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": raw})

    # --- dispatch ------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: str, body: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.outage:
            return 500, StripeFailure(500, "An unknown error occurred", type="api_error").body, {}
        if headers.get("authorization") != f"Bearer {self.api_key}":
            failure = StripeFailure(401, "Invalid API Key provided: " + _redact(headers))
            return 401, failure.body, {}
        params = parse_form(parse_qsl(body if method == "POST" else query, keep_blank_values=True))
        key = headers.get("idempotency-key") if method == "POST" else None
        fingerprint = json.dumps([path, params], sort_keys=True)
        if key and key in self._idempotent:
            seen_fingerprint, status, payload = self._idempotent[key]
            if seen_fingerprint != fingerprint:
                failure = StripeFailure(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    type="idempotency_error",
                )
                return 400, failure.body, {}
            return status, payload, {"idempotent-replayed": "true", "idempotency-key": key}
        try:
            status, payload = 200, self.route(method, path, params)
        except StripeFailure as failure:
            status, payload = failure.status, failure.body
        if key and status < 500:
            self._idempotent[key] = (fingerprint, status, payload)
        if self.lose_responses and method == "POST":
            # Processed and remembered, but the client sees a failure and will retry.
            return 500, StripeFailure(500, "lost response", type="api_error").body, {}
        return status, payload, {"idempotency-key": key} if key else {}

    def route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        routes: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
            ("POST", r"/v1/customers", self.create_customer),
            ("GET", r"/v1/customers/(?P<oid>[^/]+)", self.retrieve("customer")),
            ("POST", r"/v1/products", self.create_product),
            ("GET", r"/v1/products/(?P<oid>[^/]+)", self.retrieve("product")),
            ("POST", r"/v1/prices", self.create_price),
            ("GET", r"/v1/prices", self.list_prices),
            ("POST", r"/v1/billing/meters", self.create_meter),
            ("GET", r"/v1/billing/meters", self.list_meters),
            ("POST", r"/v1/billing/meter_events", self.create_meter_event),
            ("POST", r"/v1/checkout/sessions", self.create_checkout_session),
            ("GET", r"/v1/checkout/sessions/(?P<oid>[^/]+)", self.retrieve("checkout.session")),
            ("POST", r"/v1/billing_portal/sessions", self.create_portal_session),
            ("GET", r"/v1/subscriptions/(?P<oid>[^/]+)", self.retrieve("subscription")),
            ("POST", r"/v1/subscriptions/(?P<oid>[^/]+)", self.update_subscription),
            ("DELETE", r"/v1/subscriptions/(?P<oid>[^/]+)", self.cancel_subscription),
            ("GET", r"/v1/invoices", self.list_invoices),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return handler(params, **match.groupdict())
        raise StripeFailure(404, f"Unrecognized request URL ({method}: {path}).")

    # --- helpers ----------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}{secrets.token_hex(6)}"

    def store(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        self.objects.setdefault(kind, {})[obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str, param: str = "id") -> dict[str, Any]:
        try:
            return self.objects.get(kind, {})[object_id]
        except KeyError:
            raise _missing(kind.split(".")[-1].replace("_", " "), object_id, param) from None

    def retrieve(self, kind: str) -> Callable[..., dict[str, Any]]:
        def handler(params: dict[str, Any], oid: str) -> dict[str, Any]:
            return self.get(kind, oid)

        return handler

    def all(self, kind: str) -> list[dict[str, Any]]:
        return list(self.objects.get(kind, {}).values())

    @staticmethod
    def listing(url: str, data: list[dict[str, Any]], limit: int = 10) -> dict[str, Any]:
        return {"object": "list", "url": url, "has_more": len(data) > limit, "data": data[:limit]}

    @staticmethod
    def require(params: dict[str, Any], *names: str) -> None:
        for name in names:
            if params.get(name) in (None, ""):
                raise StripeFailure(
                    400, f"Missing required param: {name}.", code="parameter_missing", param=name
                )

    # --- resources ----------------------------------------------------------------------

    def create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.store(
            "customer",
            {
                "id": self.new_id("cus"),
                "object": "customer",
                "created": int(time.time()),
                "email": params.get("email"),
                "name": params.get("name"),
                "metadata": params.get("metadata", {}),
                "livemode": False,
            },
        )

    def create_product(self, params: dict[str, Any]) -> dict[str, Any]:
        self.require(params, "name")
        product_id = params.get("id") or self.new_id("prod")
        if product_id in self.objects.get("product", {}):
            raise StripeFailure(
                400, "Product already exists.", code="resource_already_exists", param="id"
            )
        return self.store(
            "product",
            {
                "id": product_id,
                "object": "product",
                "active": True,
                "name": params["name"],
                "metadata": params.get("metadata", {}),
                "created": int(time.time()),
                "livemode": False,
            },
        )

    def create_price(self, params: dict[str, Any]) -> dict[str, Any]:
        self.require(params, "currency", "product")
        self.get("product", params["product"], "product")
        lookup_key = params.get("lookup_key")
        if lookup_key:
            holders = [p for p in self.all("price") if p.get("lookup_key") == lookup_key]
            if holders and not _bool(params.get("transfer_lookup_key")):
                raise StripeFailure(
                    400,
                    f"A price (`{holders[0]['id']}`) already uses that lookup key.",
                    param="lookup_key",
                )
            for holder in holders:
                holder["lookup_key"] = None
        recurring = params.get("recurring")
        if recurring and recurring.get("usage_type") == "metered":
            self.require(recurring, "meter")
            self.get("billing.meter", recurring["meter"], "recurring[meter]")
        tiers = [
            {
                "up_to": None if tier.get("up_to") == "inf" else int(tier["up_to"]),
                "unit_amount_decimal": tier.get("unit_amount_decimal"),
            }
            for tier in params.get("tiers", [])
        ]
        unit_amount = params.get("unit_amount")
        return self.store(
            "price",
            {
                "id": self.new_id("price"),
                "object": "price",
                "active": True,
                "currency": params["currency"],
                "product": params["product"],
                "lookup_key": lookup_key,
                "nickname": params.get("nickname"),
                "unit_amount": int(unit_amount) if unit_amount is not None else None,
                "billing_scheme": params.get("billing_scheme", "per_unit"),
                "tiers_mode": params.get("tiers_mode"),
                "tiers": tiers or None,
                "recurring": {
                    "interval": recurring.get("interval", "month"),
                    "usage_type": recurring.get("usage_type", "licensed"),
                    "meter": recurring.get("meter"),
                }
                if recurring
                else None,
                "type": "recurring" if recurring else "one_time",
                "metadata": params.get("metadata", {}),
                "created": int(time.time()),
                "livemode": False,
            },
        )

    def list_prices(self, params: dict[str, Any]) -> dict[str, Any]:
        prices = self.all("price")
        if "lookup_keys" in params:
            wanted = set(params["lookup_keys"])
            prices = [p for p in prices if p.get("lookup_key") in wanted]
        if "active" in params:
            prices = [p for p in prices if p["active"] == _bool(params["active"])]
        return self.listing("/v1/prices", prices, int(params.get("limit", 10)))

    def create_meter(self, params: dict[str, Any]) -> dict[str, Any]:
        self.require(params, "display_name", "event_name", "default_aggregation")
        if any(m["event_name"] == params["event_name"] for m in self.all("billing.meter")):
            raise StripeFailure(
                400, "A meter with this event_name already exists.", param="event_name"
            )
        return self.store(
            "billing.meter",
            {
                "id": self.new_id("mtr"),
                "object": "billing.meter",
                "display_name": params["display_name"],
                "event_name": params["event_name"],
                "status": "active",
                "default_aggregation": params["default_aggregation"],
                "customer_mapping": params.get(
                    "customer_mapping",
                    {"event_payload_key": "stripe_customer_id", "type": "by_id"},
                ),
                "value_settings": params.get("value_settings", {"event_payload_key": "value"}),
                "created": int(time.time()),
                "livemode": False,
            },
        )

    def list_meters(self, params: dict[str, Any]) -> dict[str, Any]:
        meters = self.all("billing.meter")
        if "status" in params:
            meters = [m for m in meters if m["status"] == params["status"]]
        return self.listing("/v1/billing/meters", meters, int(params.get("limit", 10)))

    def create_meter_event(self, params: dict[str, Any]) -> dict[str, Any]:
        self.require(params, "event_name", "payload")
        payload = params["payload"]
        self.require(payload, "stripe_customer_id", "value")
        if not any(m["event_name"] == params["event_name"] for m in self.all("billing.meter")):
            raise StripeFailure(
                400, f"No active meter was found for event_name {params['event_name']}.",
                param="event_name",
            )  # fmt: skip
        self.get("customer", payload["stripe_customer_id"], "payload[stripe_customer_id]")
        self.meter_event_posts += 1
        identifier = params.get("identifier") or self.new_id("mev")
        event = {
            "object": "billing.meter_event",
            "created": int(time.time()),
            "event_name": params["event_name"],
            "identifier": identifier,
            "livemode": False,
            "payload": payload,
            "timestamp": int(params.get("timestamp", time.time())),
        }
        # Stripe accepts a repeated identifier and keeps only the first event.
        self.meter_events.setdefault(identifier, event)
        return event

    def metered_total(self, event_name: str, customer_id: str | None = None) -> float:
        return sum(
            float(e["payload"]["value"])
            for e in self.meter_events.values()
            if e["event_name"] == event_name
            and customer_id in (None, e["payload"]["stripe_customer_id"])
        )

    def create_checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        self.require(params, "mode", "success_url", "line_items")
        if params.get("customer"):
            self.get("customer", params["customer"], "customer")
        for index, item in enumerate(params["line_items"]):
            price = self.get("price", item.get("price", ""), f"line_items[{index}][price]")
            metered = (price.get("recurring") or {}).get("usage_type") == "metered"
            if metered and "quantity" in item:
                raise StripeFailure(
                    400, "Quantity should not be specified where usage_type is `metered`.",
                    param=f"line_items[{index}][quantity]",
                )  # fmt: skip
        session_id = self.new_id("cs_test")
        return self.store(
            "checkout.session",
            {
                "id": session_id,
                "object": "checkout.session",
                "mode": params["mode"],
                "status": "open",
                "payment_status": "unpaid",
                "customer": params.get("customer"),
                "client_reference_id": params.get("client_reference_id"),
                "metadata": params.get("metadata", {}),
                "subscription": None,
                "success_url": params["success_url"],
                "cancel_url": params.get("cancel_url"),
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "created": int(time.time()),
                "livemode": False,
                "_line_items": params["line_items"],
                "_subscription_data": params.get("subscription_data", {}),
            },
        )

    def create_portal_session(self, params: dict[str, Any]) -> dict[str, Any]:
        self.require(params, "customer")
        self.get("customer", params["customer"], "customer")
        session_id = self.new_id("bps")
        return self.store(
            "billing_portal.session",
            {
                "id": session_id,
                "object": "billing_portal.session",
                "customer": params["customer"],
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.com/p/session/{session_id}",
                "created": int(time.time()),
                "livemode": False,
            },
        )

    def _item(self, price_id: str, start: int, end: int) -> dict[str, Any]:
        price = self.get("price", price_id, "price")
        metered = (price.get("recurring") or {}).get("usage_type") == "metered"
        return {
            "id": self.new_id("si"),
            "object": "subscription_item",
            "price": price,
            "quantity": None if metered else 1,
            "current_period_start": start,
            "current_period_end": end,
        }

    def create_subscription(
        self, customer: str, price_ids: list[str], metadata: dict[str, Any]
    ) -> dict[str, Any]:
        start = int(time.time())
        end = start + 30 * 86400
        subscription = self.store(
            "subscription",
            {
                "id": self.new_id("sub"),
                "object": "subscription",
                "customer": customer,
                "status": "active",
                "cancel_at_period_end": False,
                "canceled_at": None,
                "created": start,
                "metadata": metadata,
                "items": {
                    "object": "list",
                    "data": [self._item(p, start, end) for p in price_ids],
                    "has_more": False,
                },
                "livemode": False,
            },
        )
        self.emit("customer.subscription.created", subscription)
        return subscription

    def update_subscription(self, params: dict[str, Any], oid: str) -> dict[str, Any]:
        subscription = self.get("subscription", oid)
        if subscription["status"] == "canceled":
            raise StripeFailure(
                400, "A canceled subscription can only update its cancellation_details "
                "and metadata.",
            )  # fmt: skip
        previous: dict[str, Any] = {}
        if "cancel_at_period_end" in params:
            previous["cancel_at_period_end"] = subscription["cancel_at_period_end"]
            subscription["cancel_at_period_end"] = _bool(params["cancel_at_period_end"])
        if "metadata" in params:
            subscription["metadata"].update(params["metadata"])
        items = subscription["items"]["data"]
        first = items[0] if items else {}
        for index, change in enumerate(params.get("items", [])):
            previous["items"] = {"data": [dict(i) for i in items]}
            if change.get("id"):
                existing = next((i for i in items if i["id"] == change["id"]), None)
                if existing is None:
                    raise _missing("subscription item", change["id"], f"items[{index}][id]")
                if _bool(change.get("deleted")):
                    items.remove(existing)
                elif change.get("price"):
                    existing["price"] = self.get("price", change["price"], f"items[{index}][price]")
            else:
                self.require(change, "price")
                start = first.get("current_period_start", int(time.time()))
                end = first.get("current_period_end", start + 30 * 86400)
                items.append(self._item(change["price"], start, end))
        self.emit("customer.subscription.updated", subscription, previous)
        return subscription

    def cancel_subscription(self, params: dict[str, Any], oid: str) -> dict[str, Any]:
        subscription = self.get("subscription", oid)
        subscription["status"] = "canceled"
        subscription["canceled_at"] = int(time.time())
        self.emit("customer.subscription.deleted", subscription)
        return subscription

    def create_invoice(self, subscription: dict[str, Any], *, paid: bool) -> dict[str, Any]:
        amount = sum(
            item["price"].get("unit_amount") or 0 for item in subscription["items"]["data"]
        )
        invoice_id = self.new_id("in")
        now = int(time.time())
        invoice = self.store(
            "invoice",
            {
                "id": invoice_id,
                "object": "invoice",
                "customer": subscription["customer"],
                "subscription": subscription["id"],
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {"subscription": subscription["id"]},
                },
                "status": "paid" if paid else "open",
                "number": f"PARLEY-{len(self.all('invoice')) + 1:04d}",
                "currency": "usd",
                "amount_due": amount,
                "amount_paid": amount if paid else 0,
                "total": amount,
                "created": now,
                "period_start": now,
                "period_end": now + 30 * 86400,
                "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
                "invoice_pdf": f"https://pay.stripe.com/invoice/{invoice_id}/pdf",
                "livemode": False,
            },
        )
        self.emit("invoice.paid" if paid else "invoice.payment_failed", invoice)
        return invoice

    def list_invoices(self, params: dict[str, Any]) -> dict[str, Any]:
        invoices = self.all("invoice")
        if "customer" in params:
            invoices = [i for i in invoices if i["customer"] == params["customer"]]
        invoices.sort(key=lambda i: i["created"], reverse=True)
        return self.listing("/v1/invoices", invoices, int(params.get("limit", 10)))

    # --- what Stripe would send to webhooks -------------------------------------------------

    def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """The customer paid: the session completes, a subscription and a paid invoice exist."""
        session = self.get("checkout.session", session_id)
        customer = session["customer"] or self.create_customer({})["id"]
        subscription = self.create_subscription(
            customer,
            [item["price"] for item in session["_line_items"]],
            dict(session["_subscription_data"].get("metadata", {})),
        )
        session.update(
            status="complete", payment_status="paid", customer=customer,
            subscription=subscription["id"],
        )  # fmt: skip
        self.emit("checkout.session.completed", _public(session))
        self.create_invoice(subscription, paid=True)
        return session

    def emit(
        self, type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        event = self.event(type, obj, previous_attributes=previous)
        self.events.append(event)
        return event

    def event(
        self,
        type: str,
        obj: dict[str, Any],
        *,
        created: int | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": json.loads(json.dumps(_public(obj)))}
        if previous_attributes:
            data["previous_attributes"] = previous_attributes
        return {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()) if created is None else created,
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }

    def last_event(self, type: str) -> dict[str, Any]:
        return next(e for e in reversed(self.events) if e["type"] == type)


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _redact(headers: dict[str, str]) -> str:
    key = headers.get("authorization", "").removeprefix("Bearer ")
    return (key[:8] + "*" * 8) if key else "(none)"


@contextmanager
def _no_signals() -> Iterator[None]:
    yield
