"""The emulator's web app: the generated server stubs, implemented on the provider logic.

The stubs parse, validate and serialise (JSON or XML); the classes here only translate a parsed
call into the provider logic and its answer into the generated models. Sync SQLite calls run
on the event loop on purpose: each is short, and a thread hop would cost more than it saves.
Listings are the exception: their cost follows the client's filters and page size, so they
run in the thread pool and one costly list cannot stop every other request.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.exception_handlers import http_exception_handler
from numspec.emulator.accounts import Account
from numspec.emulator.errors import (
    FC_INVALID,
    FC_METHOD_NOT_ALLOWED,
    FC_MISSING,
    FC_NOT_FOUND,
    FC_NOT_JSON,
    FC_TOO_LARGE,
    ProviderError,
    freeclimb_error,
    restcomm_error,
)
from numspec.emulator.freeclimb_applications import Applications
from numspec.emulator.freeclimb_logic import FreeClimb
from numspec.emulator.restcomm_logic import Restcomm
from numspec.emulator.store import Store
from numspec.emulator.streaming import (
    BATCH,
    STREAM_ABOVE,
    StreamedPage,
    run_limited,
    streamed_page,
)
from numspec.generated.freeclimb import models as fc
from numspec.generated.freeclimb import server as fc_server
from numspec.generated.restcomm import models as rc
from numspec.generated.restcomm import server as rc_server
from numspec.generated.runtime import ApiError
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024  # number bodies are a few hundred bytes; anything near this is abuse
ModelT = TypeVar("ModelT", bound=BaseModel)
# The stubs' problems for a JSON body that is not a JSON object (generated/serving.py).
_NOT_JSON_PROBLEMS = ("the body is not valid JSON", "the body must be a JSON object")


def _answer(error: ProviderError) -> ApiError:
    """A provider refusal as the stubs send it."""
    body: BaseModel | str | None = error.body if not isinstance(error.body, dict) else \
        fc.PlatformError.model_validate(error.body)
    return ApiError(error.status, body, dict(error.headers))


def _call(make: Callable[[], dict[str, Any]], model: type[ModelT]) -> ModelT:
    try:
        return model.model_validate(make())
    except ProviderError as error:
        raise _answer(error) from None


async def _call_in_thread(make: Callable[[], dict[str, Any]], model: type[ModelT]) -> ModelT:
    return await run_in_threadpool(_call, make, model)


def _wire(value: BaseModel | None, *exclude: str) -> dict[str, Any]:
    """Parsed parameters or body back in wire names: what the provider logic reads."""
    if value is None:
        return {}
    return value.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=set(exclude))


def _sent(body: BaseModel | None) -> dict[str, Any] | None:
    """An update's fields as the client sent them, in wire names: an explicit null stays (it
    clears the field), a field left out stays out."""
    if body is None:
        return None
    return body.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _fmt(media_type: str) -> Literal["json", "xml"]:
    return "xml" if "xml" in media_type else "json"


class FreeClimbService:
    """FreeClimb's stub interface over the logic in emulator.freeclimb_logic."""

    def __init__(self, store: Store) -> None:
        self.logic = FreeClimb(store)
        self.applications = Applications(store, self.logic)
        self.store = store

    async def authenticate(self, credentials: tuple[str, str] | None, account: str | None) -> Account:
        try:
            return self.logic.login(credentials)
        except ProviderError as error:
            raise _answer(error) from None

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> ApiError:
        kinds = {405: FC_METHOD_NOT_ALLOWED, 406: FC_INVALID, 413: FC_TOO_LARGE,
                 415: FC_NOT_JSON}
        if status == 400 and problem.startswith(_NOT_JSON_PROBLEMS):
            kind = FC_NOT_JSON  # a body that does not parse, or is not an object
        else:
            kind = kinds.get(status, FC_MISSING if "required" in problem.lower() else FC_INVALID)
        return _answer(freeclimb_error(status, kind, problem))

    async def list_incoming_numbers(self, call: fc_server.ListIncomingNumbersCall) -> fc.IncomingNumberList:
        p = call.params
        return await _call_in_thread(lambda: self.logic.list_incoming_numbers(
            call.principal, p.account_id, _wire(p, "account_id", "cursor"),
            p.cursor), fc.IncomingNumberList)

    async def buy_a_phone_number(self, call: fc_server.BuyAPhoneNumberCall) -> fc.IncomingNumber:
        return _call(lambda: self.logic.buy_a_phone_number(
            call.principal, call.params.account_id, _wire(call.body)), fc.IncomingNumber)

    async def get_an_incoming_number(self, call: fc_server.GetAnIncomingNumberCall) -> fc.IncomingNumber:
        return _call(lambda: self.logic.get_an_incoming_number(
            call.principal, call.params.account_id, call.params.phone_number_id), fc.IncomingNumber)

    async def update_an_incoming_number(
        self, call: fc_server.UpdateAnIncomingNumberCall
    ) -> fc.IncomingNumber:
        body = _sent(call.body)
        return _call(lambda: self.logic.update_an_incoming_number(
            call.principal, call.params.account_id, call.params.phone_number_id, body),
            fc.IncomingNumber)

    async def delete_an_incoming_number(self, call: fc_server.DeleteAnIncomingNumberCall) -> None:
        try:
            self.logic.delete_an_incoming_number(
                call.principal, call.params.account_id, call.params.phone_number_id)
        except ProviderError as error:
            raise _answer(error) from None

    async def list_available_numbers(self, call: fc_server.ListAvailableNumbersCall) -> fc.AvailableNumberList:
        p = call.params
        return await _call_in_thread(lambda: self.logic.list_available_numbers(
            call.principal, _wire(p, "cursor"), p.cursor),
            fc.AvailableNumberList)

    async def list_applications(self, call: fc_server.ListApplicationsCall) -> fc.ApplicationList:
        p = call.params
        return _call(lambda: self.applications.list_applications(
            call.principal, p.account_id, _wire(p, "account_id", "cursor"), p.cursor),
            fc.ApplicationList)

    async def create_an_application(self, call: fc_server.CreateAnApplicationCall) -> fc.Application:
        return _call(lambda: self.applications.create_an_application(
            call.principal, call.params.account_id, _wire(call.body)), fc.Application)

    async def get_an_application(self, call: fc_server.GetAnApplicationCall) -> fc.Application:
        return _call(lambda: self.applications.get_an_application(
            call.principal, call.params.account_id, call.params.application_id), fc.Application)

    async def update_an_application(self, call: fc_server.UpdateAnApplicationCall) -> fc.Application:
        body = _sent(call.body)
        return _call(lambda: self.applications.update_an_application(
            call.principal, call.params.account_id, call.params.application_id, body),
            fc.Application)

    async def delete_an_application(self, call: fc_server.DeleteAnApplicationCall) -> None:
        try:
            self.applications.delete_an_application(
                call.principal, call.params.account_id, call.params.application_id)
        except ProviderError as error:
            raise _answer(error) from None


class RestcommService:
    """Restcomm's stub interface over the logic in emulator.restcomm_logic."""

    def __init__(self, store: Store) -> None:
        self.logic = Restcomm(store)

    async def authenticate(self, credentials: tuple[str, str] | None, account: str | None) -> Account:
        try:
            return self.logic.login(credentials)
        except ProviderError as error:
            raise _answer(error) from None

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> ApiError:
        # A malformed path account is an unknown one: the contract's 404 with no body (the
        # real server fails with 500). Checked first, so list and create routes agree.
        if status == 400 and field == "AccountSid":
            return _answer(restcomm_error(404))
        if status == 400 and operation.startswith("create-") and field == "PhoneNumber" \
                and "required" in problem.lower():
            return _answer(restcomm_error(400, "Phone number can not be null."))
        if status == 400 and operation.endswith(("-phone-numbers", "-phone-numbers-json")):
            return _answer(restcomm_error(400, problem))
        # 404 for a malformed Sid: the real server fails with 500 there, meaning "no such number".
        if status == 400 and field == "Sid":
            return _answer(restcomm_error(404))
        return _answer(restcomm_error(status, problem if status == 400 else ""))

    async def _list(self, call: Any, number_type: str | None) -> rc.IncomingPhoneNumberPage:
        p = call.params
        if p.page_size > STREAM_ABOVE:
            try:
                fields, count, batches = await run_limited(
                    self.logic.stream_incoming_phone_numbers, call.principal, p.account_sid,
                    _wire(p, "account_sid"), _fmt(call.media_type), number_type, BATCH)
            except ProviderError as error:
                raise _answer(error) from None
            if count > STREAM_ABOVE:
                raise StreamedPage(fields, batches, call.media_type)  # see emulator/streaming.py
            items = [item for batch in batches for item in batch]
            return rc.IncomingPhoneNumberPage.model_validate(
                {**fields, "incomingPhoneNumbers": items})
        return await _call_in_thread(lambda: self.logic.list_incoming_phone_numbers(
            call.principal, p.account_sid, _wire(p, "account_sid"), _fmt(call.media_type),
            number_type), rc.IncomingPhoneNumberPage)

    def _create(self, call: Any, number_type: str) -> rc.IncomingPhoneNumber:
        return _call(lambda: self.logic.create_incoming_phone_number(
            call.principal, call.params.account_sid, _wire(call.body), _fmt(call.media_type),
            number_type), rc.IncomingPhoneNumber)

    def _update(self, call: Any) -> rc.IncomingPhoneNumber:
        form = _sent(call.body)
        return _call(lambda: self.logic.update_incoming_phone_number(
            call.principal, call.params.account_sid, call.params.sid, form,
            _fmt(call.media_type)), rc.IncomingPhoneNumber)

    async def list_incoming_phone_numbers(
        self, call: rc_server.ListIncomingPhoneNumbersCall
    ) -> rc.IncomingPhoneNumberPage:
        return await self._list(call, None)

    async def list_local_incoming_phone_numbers(
        self, call: rc_server.ListLocalIncomingPhoneNumbersCall
    ) -> rc.IncomingPhoneNumberPage:
        return await self._list(call, "Local")

    async def list_toll_free_incoming_phone_numbers(
        self, call: rc_server.ListTollFreeIncomingPhoneNumbersCall
    ) -> rc.IncomingPhoneNumberPage:
        return await self._list(call, "TollFree")

    async def list_mobile_incoming_phone_numbers(
        self, call: rc_server.ListMobileIncomingPhoneNumbersCall
    ) -> rc.IncomingPhoneNumberPage:
        return await self._list(call, "Mobile")

    async def create_incoming_phone_number(
        self, call: rc_server.CreateIncomingPhoneNumberCall
    ) -> rc.IncomingPhoneNumber:
        return self._create(call, "Global")

    async def create_local_incoming_phone_number(
        self, call: rc_server.CreateLocalIncomingPhoneNumberCall
    ) -> rc.IncomingPhoneNumber:
        return self._create(call, "Local")

    async def create_toll_free_incoming_phone_number(
        self, call: rc_server.CreateTollFreeIncomingPhoneNumberCall
    ) -> rc.IncomingPhoneNumber:
        return self._create(call, "TollFree")

    async def create_mobile_incoming_phone_number(
        self, call: rc_server.CreateMobileIncomingPhoneNumberCall
    ) -> rc.IncomingPhoneNumber:
        return self._create(call, "Mobile")

    async def get_incoming_phone_number(
        self, call: rc_server.GetIncomingPhoneNumberCall
    ) -> rc.IncomingPhoneNumber:
        return _call(lambda: self.logic.get_incoming_phone_number(
            call.principal, call.params.account_sid, call.params.sid, _fmt(call.media_type)),
            rc.IncomingPhoneNumber)

    async def update_incoming_phone_number(
        self, call: rc_server.UpdateIncomingPhoneNumberCall
    ) -> rc.IncomingPhoneNumber:
        return self._update(call)

    async def update_incoming_phone_number_put(
        self, call: rc_server.UpdateIncomingPhoneNumberPutCall
    ) -> rc.IncomingPhoneNumber:
        return self._update(call)

    async def delete_incoming_phone_number(
        self, call: rc_server.DeleteIncomingPhoneNumberCall
    ) -> None:
        try:
            self.logic.delete_incoming_phone_number(
                call.principal, call.params.account_sid, call.params.sid)
        except ProviderError as error:
            raise _answer(error) from None


def _response(error: ProviderError) -> Response:
    media = error.media_type
    if isinstance(error.body, dict):
        body: str | None = fc.PlatformError.model_validate(error.body).model_dump_json(
            by_alias=True, exclude_unset=True)
    else:
        body = error.body
    return Response(body, error.status, dict(error.headers), media)


# Methods the generated routes name (HEAD comes with GET); any other one finds no route.
_ROUTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"})


def _provider_of(path: str) -> str | None:
    """Which provider a path belongs to. No slash is needed after the prefix: FreeClimb's Node
    SDK asks for `/apiservernull` when there is no next page, and should read FreeClimb's 404."""
    for prefix in ("/apiserver", "/restcomm"):
        if path.startswith(prefix):
            return prefix
    return None


def _provider(request: Request) -> str | None:
    return _provider_of(request.url.path)


def _provider_not_found(provider: str) -> Response:
    if provider == "/apiserver":
        return _response(freeclimb_error(404, FC_NOT_FOUND, "Not Found"))
    return _response(restcomm_error(404))


async def _not_found(request: Request, exc: Exception) -> Response:
    """Paths no operation has get the provider's own 404, not FastAPI's JSON detail."""
    assert isinstance(exc, HTTPException)
    provider = _provider(request)
    if exc.status_code != 404 or provider is None:
        return await http_exception_handler(request, exc)
    return _provider_not_found(provider)


def restcomm_json_path(path: str) -> str | None:
    """Restcomm's AcceptFilter: a path holding `.json` anywhere answers JSON and has `.json`
    removed from every segment before routing. Here the `.json` moves to the last segment,
    where the contract's `.json` twin of each operation (always JSON) takes it. None when the
    path has no `.json`."""
    if ".json" not in path:
        return None
    stripped = "/".join(segment.replace(".json", "") for segment in path.split("/"))
    return stripped if stripped.endswith("/") else stripped + ".json"  # a trailing / stays a 404


ROOT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>numspec emulator</title></head>
<body><h1>numspec emulator</h1>
<p>This server emulates two phone-number APIs; state lives in its SQLite file.</p>
<ul>
<li><a href="docs/">docs</a>: the contract, with requests you can send to this server</li>
<li>FreeClimb base URL: <a href="apiserver"><code>{base}/apiserver</code></a></li>
<li>Restcomm base URL: <a href="restcomm/2012-04-24"><code>{base}/restcomm/2012-04-24</code></a></li>
</ul></body></html>
"""
UNKNOWN_PATH = (
    "Not Found: this server answers under /apiserver (FreeClimb), /restcomm/2012-04-24 "
    "(Restcomm), /docs and /_numspec (the network: calls, messages, events)\n"
)


def _own_address(scope: Scope) -> str:
    """The address this server was reached on, from the socket, never from the Host header
    (a client may send any Host)."""
    host, port = scope.get("server") or ("127.0.0.1", 0)
    host = f"[{host}]" if ":" in host else host
    return f"{scope.get('scheme', 'http')}://{host}:{port}"


class Edges:
    """What happens before routing, as the real servers do it, so every answer under a
    provider's prefix is in that provider's shape:

    - Restcomm paths with `.json` in any segment are rewritten (see restcomm_json_path);
    - a trailing slash under a provider's prefix is the provider's 404 (Starlette would
      answer 307 to the path without it);
    - a method no route names (FOO, PROPFIND) gets the provider's 405 with the path's real
      Allow, from the generated 405 route of that path (Starlette's names the first route's);
    - `/` is a short page pointing at the docs and both base URLs; other paths no provider
      or the docs own get a plain-text 404 that says what is served.
    """

    def __init__(self, app: ASGIApp, routers: dict[str, APIRouter]) -> None:
        self.app, self.routers = app, routers  # each provider's generated router, by prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        provider = _provider_of(path)
        if provider is None:
            if path == "/":
                await self._root(scope, receive, send)
            elif path == "/docs" or path.startswith(("/docs/", "/_numspec/")):
                await self.app(scope, receive, send)
            else:
                await PlainTextResponse(UNKNOWN_PATH, 404)(scope, receive, send)
            return
        if provider == "/restcomm":
            rewritten = restcomm_json_path(path)
            if rewritten is not None:
                scope = {**scope, "path": rewritten, "raw_path": rewritten.encode()}
                path = rewritten
        if path.endswith("/"):
            await _provider_not_found(provider)(scope, receive, send)
            return
        if scope["method"] not in _ROUTED_METHODS:
            await self._unknown_method(scope, receive, send, provider)
            return
        await self.app(scope, receive, send)

    async def _root(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            response: Response = PlainTextResponse("Method Not Allowed\n", 405,
                                                   {"Allow": "GET, HEAD"})
        else:
            response = HTMLResponse(ROOT_PAGE.format(base=html.escape(_own_address(scope))))
        await response(scope, receive, send)

    async def _unknown_method(self, scope: Scope, receive: Receive, send: Send,
                              provider: str) -> None:
        # The contract gives no operation TRACE, so the generated 405 route of every path
        # takes it: that route knows the path's Allow and answers in the provider's shape.
        inner = scope["path"][len(provider):]
        probe = {**scope, "method": "TRACE", "path": inner, "root_path": ""}
        for route in self.routers[provider].routes:
            if isinstance(route, Route):
                match, child = route.matches(probe)
                if match is Match.FULL:
                    await route.app({**scope, **child}, receive, send)
                    return
        await _provider_not_found(provider)(scope, receive, send)


def create_app(store: Store, *, docs_document: dict[str, Any] | None = None,
               network: Any = None) -> FastAPI:
    """Both providers in one app: FreeClimb under /apiserver, Restcomm under /restcomm;
    numspec's own endpoints (emulator.admin: the network, ``network`` or a default one) under
    /_numspec."""
    app = FastAPI(title="numspec emulator", docs_url=None, redoc_url=None, openapi_url=None)
    from numspec.emulator.admin import PREFIX, admin_app
    from numspec.emulator.network import Network

    app.mount(PREFIX, admin_app(network or Network(store)))
    app.add_exception_handler(HTTPException, _not_found)
    app.add_exception_handler(StreamedPage, streamed_page)
    routers = {
        "/apiserver": fc_server.create_router(FreeClimbService(store), max_body_bytes=MAX_BODY_BYTES),
        "/restcomm": rc_server.create_router(RestcommService(store), max_body_bytes=MAX_BODY_BYTES),
    }
    for prefix, router in routers.items():
        app.include_router(router, prefix=prefix)
    app.add_middleware(Edges, routers=routers)
    if docs_document is not None:
        from numspec.emulator.accounts import FREECLIMB_DEMO, RESTCOMM_DEMO
        from numspec.generator.docs import docs_app

        # "Try it out" starts with accounts this server has, so a first request is not refused.
        demo = {"freeclimb": FREECLIMB_DEMO.username, "restcomm": RESTCOMM_DEMO.username}
        app.mount("/docs", docs_app(docs_document, accounts=demo))

        async def docs_slash(request: Request) -> Response:
            # Starlette's own slash redirect builds an absolute URL from the Host header.
            return RedirectResponse("/docs/", status_code=307)

        app.add_route("/docs", docs_slash, methods=["GET", "HEAD"])
    return app


class AccessLog:
    """One line per request on stdout: method, path, status, milliseconds.

    The query string is left out (filters may carry what a user would not log) and so are the
    headers (credentials); the path is as the client sent it, with anything unprintable escaped
    so a request cannot forge log lines.
    """

    def __init__(self, app: ASGIApp, write: Callable[[str], object] | None = None) -> None:
        self.app = app
        self.write = write or _print_line

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0  # stays 0 if the client left before any answer

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            path = scope.get("raw_path") or scope["path"].encode()
            self.write(f'{_printable(scope["method"])} {_printable(path.split(b"?", 1)[0])} '
                       f"{status or '-'} {elapsed:.1f}ms")


def _printable(text: str | bytes) -> str:
    raw = text.decode("latin-1") if isinstance(text, bytes) else text
    if raw.isascii() and raw.isprintable() and " " not in raw:
        return raw  # the usual case, without a loop over the characters
    return "".join(c if c.isprintable() and c != " " and ord(c) < 127 else f"\\x{ord(c):02x}"
                   for c in raw)


def _print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
