"""The HTTP layer's defences: what uvicorn alone leaves open to a hostile or broken client.

- ``guarded_protocol``: uvicorn's h11 protocol (pinned, so behaviour does not change when
  httptools happens to be installed) plus a deadline for each request head, and a hard cap on
  open connections enforced as they are accepted: past the cap a client gets a 503 at once and
  the socket is closed, so slow clients can never push the process to its file-descriptor
  limit (where asyncio logs `socket.accept() out of system resource` in a loop).
- ``guard_app``: ASGI middleware. A request carrying both Content-Length and Transfer-Encoding
  is refused with 400 (RFC 9112 §6.3: a server must not guess, and must close); any answer
  sent before the request body was read to its end (413, 401, …) closes the connection, so
  the rest of the body is neither drained nor parsed as a next request; a client that hangs
  up mid-body ends its request quietly.
- ``RateLimitFilter``: one log line per kind of message per interval, however many occur.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used, so `numspec --help` stays quick
    from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_KEEP_ALIVE_S = 5
LISTEN_BACKLOG = 64  # asyncio accepts up to this many at once, before any cap can act
# File descriptors kept free for SQLite (three per thread's connection), logs and the like.
FD_HEADROOM = 160
MAX_DEFAULT_CONNECTIONS = 1000

BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: 38\r\nconnection: close\r\n\r\n"
        b"too many open connections; retry later")
_BOTH_FRAMINGS = b"Content-Length and Transfer-Encoding must not both be sent"
log = logging.getLogger("uvicorn.error")


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, got {text}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def add_limit_options(p: argparse.ArgumentParser) -> None:
    """`serve`'s defences against slow or greedy clients; the defaults suit a laptop."""
    group = p.add_argument_group("limits")
    group.add_argument(
        "--max-connections", type=_count, default=None, metavar="N",
        help="open connections at most; past it a client gets 503 and is disconnected "
             "(default: what the open-file limit leaves room for, at most "
             f"{MAX_DEFAULT_CONNECTIONS})")
    group.add_argument(
        "--header-timeout", type=_seconds, default=DEFAULT_HEADER_TIMEOUT_S,
        metavar="SECONDS",
        help="a connection that has not sent a whole request head this long after "
             "connecting (or after its last answer) is closed "
             f"(default {DEFAULT_HEADER_TIMEOUT_S:g})")
    group.add_argument(
        "--max-numbers-per-account", type=_count, default=None, metavar="N",
        help="numbers one account may hold; past it buying or creating answers 403 "
             "(default 10000)")
    group.add_argument(
        "--keep-alive-timeout", type=_seconds, default=DEFAULT_KEEP_ALIVE_S,
        metavar="SECONDS",
        help=f"an idle kept-alive connection is closed after this long "
             f"(default {DEFAULT_KEEP_ALIVE_S})")


def default_connection_limit() -> int:
    """As many connections as the open-file limit leaves room for, at most 1000."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_DEFAULT_CONNECTIONS
    return max(8, min(MAX_DEFAULT_CONNECTIONS, soft - FD_HEADROOM - LISTEN_BACKLOG))


def guarded_protocol(header_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a request-head deadline and the connection cap (the
    config's ``limit_concurrency``, which uvicorn itself only checks once a request head
    has arrived)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            limit = self.config.limit_concurrency
            if limit is not None and len(self.connections) > limit:
                log.warning("connection limit (%d) reached: answering 503", limit)
                transport.write(BUSY)
                transport.close()
                return
            self._arm_head_timer()

        def _arm_head_timer(self) -> None:
            self._disarm_head_timer()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_timed_out)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            busy = self.cycle is not None and not self.cycle.response_complete
            if not busy and not self.transport.is_closing():
                self.transport.close()  # no full request head in time: hang up

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_head_timer()  # the next request head has the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_head_timer()
            super().connection_lost(exc)

    return GuardedH11Protocol


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def guard_app(app: Any) -> Any:
    """Wrap an ASGI app with the request-framing and disconnect rules above."""
    from starlette.requests import ClientDisconnect

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding") is not None
        if length is not None and chunked:
            await send({"type": "http.response.start", "status": 400, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": _BOTH_FRAMINGS})
            return
        body_done = not chunked and (length is None or length.strip() in (b"", b"0"))

        async def tracked_receive() -> Any:
            nonlocal body_done
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body_done = True
            return message

        async def closing_send(message: Any) -> None:
            if message["type"] == "http.response.start" and not body_done:
                # The rest of the body is not wanted: hang up after this answer.
                message = {**message,
                           "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await app(scope, tracked_receive, closing_send)
        except ClientDisconnect:
            pass  # the client left mid-body; there is nobody to answer

    return guarded


class RateLimitFilter(logging.Filter):
    """Let one record per message kind through every ``interval_s``; count the rest and
    mention them, without the traceback, on the next record that passes."""

    def __init__(self, interval_s: float = 10.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg).split("\n", 1)[0][:200]
        now = time.monotonic()
        if now - self._last.get(key, -self.interval_s) < self.interval_s:
            self._dropped[key] = self._dropped.get(key, 0) + 1
            return False
        self._last[key] = now
        dropped = self._dropped.pop(key, 0)
        if dropped:
            record.msg = f"{record.msg} ({dropped} more like this in the last " \
                         f"{self.interval_s:g} s not shown)"
        return True


def limit_log_floods(interval_s: float = 10.0) -> None:
    """Rate-limit the loggers a flood of bad connections writes to."""
    for name in ("asyncio", "uvicorn.error"):
        logging.getLogger(name).addFilter(RateLimitFilter(interval_s))
