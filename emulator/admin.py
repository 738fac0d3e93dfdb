"""numspec's own endpoints under /_numspec/, outside both providers' prefixes.

They make the emulator act as the network (emulator.network): ring a number, text it, read
what was sent. Only clients on a loopback address may use them, whatever address the server
listens on: they make the server send requests, and they show signing secrets.

    POST /_numspec/calls      {"from": "+1…", "to": "+1…"}            -> the call's outcome
    POST /_numspec/messages   {"from": "+1…", "to": "+1…", "text": ""} -> the message's outcome
    GET  /_numspec/events?limit=100&call=ID                         -> {"events": [...]}
    GET  /_numspec/signing-secrets                                  -> FreeClimb accounts' secrets
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from numspec.emulator.accounts import signing_secret
from numspec.emulator.network import Network, NetworkError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

PREFIX = "/_numspec"
MAX_BODY = 16 * 1024
MAX_LIMIT = 2000


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(str(client[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


async def _fields(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise NetworkError(f"the body is over {MAX_BODY} bytes", 413)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise NetworkError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise NetworkError("the body must be a JSON object")
    for name in names:
        if not isinstance(data.get(name), str):
            raise NetworkError(f"{name!r} is required, as a string")
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise NetworkError(f"unknown field {unknown[0]!r} (known: {', '.join(names)})")
    return {name: data[name] for name in names}


def admin_app(network: Network) -> Any:
    async def calls(request: Request) -> Response:
        fields = await _fields(request, ("from", "to"))
        return JSONResponse((await network.call(fields["from"], fields["to"])).as_json())

    async def messages(request: Request) -> Response:
        fields = await _fields(request, ("from", "to", "text"))
        outcome = await network.message(fields["from"], fields["to"], fields["text"])
        return JSONResponse(outcome.as_json())

    async def events(request: Request) -> Response:
        text = request.query_params.get("limit", "100")
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
            raise NetworkError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
        found = network.events(int(text), request.query_params.get("call") or None)
        return JSONResponse({"events": found})

    async def signing_secrets(request: Request) -> Response:
        with network.store.read() as conn:
            rows = conn.execute("SELECT sid FROM accounts WHERE provider = 'freeclimb' "
                                "ORDER BY created_at, sid").fetchall()
        return JSONResponse({"freeclimb": [
            {"accountId": row[0], "signingSecret": signing_secret(network.store, row[0])}
            for row in rows]})

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NetworkError)
        return _error(exc.status, str(exc))

    inner = Starlette(routes=[
        Route("/calls", calls, methods=["POST"]),
        Route("/messages", messages, methods=["POST"]),
        Route("/events", events, methods=["GET"]),
        Route("/signing-secrets", signing_secrets, methods=["GET"]),
    ], exception_handlers={NetworkError: refused})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _loopback(scope):
            await _error(403, "the /_numspec endpoints answer loopback clients only")(
                scope, receive, send)
            return
        await inner(scope, receive, send)

    return app
