"""A webhook receiver for tests and benchmarks: it records every request it gets and answers
as the path says, so one app plays a good receiver, a broken one and a slow one.

    /rcml      valid RCML (Say, Hangup)          /percl     valid PerCL (Say, Hangup)
    /ok        200, empty body                   /fail      500
    /slow      waits `slow_s`, then valid RCML   /big       a reply of `big_bytes`
    /malformed RCML that is not well-formed XML  /notpercl  JSON that is not an array
    /health    200 (not recorded)

Serve it with tests.loopback_server.serve(app, probe="/health").
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

RCML = b"<?xml version='1.0' encoding='UTF-8'?><Response><Say>Hello</Say><Hangup/></Response>"
PERCL = b'[{"Say": {"text": "Hello"}}, {"Hangup": {}}]'


@dataclass
class Received:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


class Receiver:
    def __init__(self, slow_s: float = 2.0, big_bytes: int = 1 << 20) -> None:
        self.slow_s, self.big_bytes = slow_s, big_bytes
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/health", self._health, methods=["GET"]),
            Route("/{kind}", self._answer, methods=["GET", "POST"]),
        ])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    async def _health(self, request: Request) -> Response:
        return Response("ok")

    async def _answer(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.received.append(Received(
                request.method, request.url.path, list(request.query_params.multi_items()),
                {k.lower(): v for k, v in request.headers.items()}, body))
        kind = request.path_params["kind"]
        if kind == "rcml":
            return Response(RCML, media_type="application/xml")
        if kind == "percl":
            return Response(PERCL, media_type="application/json")
        if kind == "fail":
            return Response(b"boom", 500, media_type="text/plain")
        if kind == "slow":
            await asyncio.sleep(self.slow_s)
            return Response(RCML, media_type="application/xml")
        if kind == "big":
            return Response(b"<Response>" + b" " * self.big_bytes + b"</Response>",
                            media_type="application/xml")
        if kind == "malformed":
            return Response(b"<Response><Say>Hello</Response>", media_type="application/xml")
        if kind == "notpercl":
            return Response(b'{"Say": {"text": "Hello"}}', media_type="application/json")
        return Response(b"", 200)
