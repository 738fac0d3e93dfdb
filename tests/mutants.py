"""Broken servers: the real emulator with one small deliberate fault each.

`numspec contract` must fail against every one of them (tests/test_contract.py); a mutant it
lets through means a check is missing. Run one over real HTTP:

    python -m tests.mutants fc-buy-201 --port 8131 --db /tmp/m.db

`--port 0` picks a free port; the first line printed is `listening on http://127.0.0.1:PORT`.
`--record FILE` appends `METHOD PATH STATUS` per request (the read-only test reads it). The name
`none` serves the unbroken emulator.

A fault is either a service subclass (wrong behaviour behind the generated stubs) or an ASGI
middleware that rewrites requests or answers on the wire (wrong bytes, codes or headers).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sqlite3
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI
from numspec.emulator import accounts
from numspec.emulator.app import MAX_BODY_BYTES, FreeClimbService, RestcommService, create_app
from numspec.emulator.freeclimb_logic import E164, FreeClimb
from numspec.emulator.freeclimb_logic import page_fields as fc_page_fields
from numspec.emulator.restcomm_logic import Restcomm
from numspec.emulator.restcomm_logic import page_fields as rc_page_fields
from numspec.emulator.store import Store
from numspec.generated.freeclimb import models as fc
from numspec.generated.freeclimb import server as fc_server
from numspec.generated.restcomm import models as rc
from numspec.generated.restcomm import server as rc_server
from numspec.generated.runtime import ApiError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Provider = Literal["freeclimb", "restcomm"]

# A second FreeClimb account that owns numbers, so a listing that leaks them can be seen.
OTHER_FREECLIMB = ("AC" + "0f" * 20, "other-account-key")


# -- plumbing: the emulator with other services, and wire rewriting ---------------------------

def _app(store: Store, fc_service: type[FreeClimbService] = FreeClimbService,
         rc_service: type[RestcommService] = RestcommService) -> FastAPI:
    """create_app's routing with the service classes swapped."""
    app = FastAPI(title="numspec mutant", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(fc_server.create_router(fc_service(store), max_body_bytes=MAX_BODY_BYTES),
                       prefix="/apiserver")
    app.include_router(rc_server.create_router(rc_service(store), max_body_bytes=MAX_BODY_BYTES),
                       prefix="/restcomm")
    return app


@dataclass
class Answer:
    """A buffered answer a rewrite may change."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def media(self) -> str:
        for name, value in self.headers:
            if name.lower() == b"content-type":
                return value.decode("latin-1").split(";")[0].strip().lower()
        return ""

    def set_media(self, media: str) -> None:
        self.headers = [(n, v) for n, v in self.headers if n.lower() != b"content-type"]
        self.headers.append((b"content-type", media.encode("latin-1")))


Rewrite = Callable[[Scope, Answer], None]


class RewriteAnswers:
    """Buffer each answer and let `rewrite` change it before it is sent."""

    def __init__(self, app: ASGIApp, rewrite: Rewrite) -> None:
        self.app, self.rewrite = app, rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer = Answer(200, [], b"")

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")

        await self.app(scope, receive, capture)
        self.rewrite(scope, answer)
        headers = [(n, v) for n, v in answer.headers if n.lower() != b"content-length"]
        headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


class RewriteRequests:
    """Let `rewrite(scope, body)` change each request body before the app reads it."""

    def __init__(self, app: ASGIApp, rewrite: Callable[[Scope, bytes], bytes]) -> None:
        self.app, self.rewrite = app, rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = self.rewrite(scope, body)
        headers = [(n, v) for n, v in scope["headers"] if n.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as log:  # a few bytes to a local file: no await
        log.write(line)


class RecordMethods:
    """Append `METHOD PATH STATUS` for every request to a file (the read-only test reads it)."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                _append(self.path, f"{scope['method']} {scope['path']} {message['status']}\n")
            await send(message)

        await self.app(scope, receive, record)


def _json_rewrite(prefix: str, change: Callable[[Scope, Any], Any],
                  statuses: tuple[int, ...] = (200,)) -> Rewrite:
    """A rewrite of JSON answers under `prefix` with the given statuses."""
    def rewrite(scope: Scope, answer: Answer) -> None:
        if (str(scope["path"]).startswith(prefix) and answer.status in statuses
                and "json" in answer.media and answer.body):
            answer.body = json.dumps(change(scope, json.loads(answer.body))).encode()
    return rewrite


def _numbers(data: Any, key: str) -> list[dict[str, Any]]:
    """The number objects in an answer: the answer itself or the items of a page."""
    if not isinstance(data, dict):
        return []
    if key in data:
        return [data]
    items = data.get("incomingPhoneNumbers")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _each_number(key: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Scope, Any], Any]:
    def apply(scope: Scope, data: Any) -> Any:
        for number in _numbers(data, key):
            change(number)
        return data
    return apply


def _wrap(rewrite: Rewrite) -> Callable[[Store], ASGIApp]:
    return lambda store: RewriteAnswers(create_app(store), rewrite)


# -- FreeClimb faults -------------------------------------------------------------------------

def _drop_alias(number: dict[str, Any]) -> None:
    number.pop("alias", None)


def _revision_as_text(number: dict[str, Any]) -> None:
    number["revision"] = str(number.get("revision"))


def _uri_names_the_list(number: dict[str, Any]) -> None:
    number["uri"] = str(number.get("uri", "")).rsplit("/", 1)[0]


def _buy_answers_201(scope: Scope, answer: Answer) -> None:
    if scope["method"] == "POST" and str(scope["path"]).endswith("/IncomingPhoneNumbers") \
            and answer.status == 200:
        answer.status = 201


def _fc_text_plain(scope: Scope, answer: Answer) -> None:
    if str(scope["path"]).startswith("/apiserver") and answer.status == 200:
        answer.set_media("text/plain")


def _fc_pages_lie(scope: Scope, data: Any) -> Any:
    if isinstance(data, dict) and "numPages" in data:
        data["numPages"] += 1
    return data


class AuthIgnored(FreeClimbService):
    """Credentials that do not log in still open the account named in the path. (With no
    credentials at all the generated stubs answer 401 themselves, whatever this says.)"""

    async def authenticate(self, credentials: tuple[str, str] | None, account: str | None) -> Any:
        try:
            return await super().authenticate(credentials, account)
        except ApiError:
            found = accounts.get_account(self.store, account or "", "freeclimb")
            if credentials is None or found is None:
                raise
            return found


class RevisionStuck(FreeClimbService):
    """Updates apply but `revision` stays where it was."""

    async def update_an_incoming_number(
        self, call: fc_server.UpdateAnIncomingNumberCall
    ) -> fc.IncomingNumber:
        updated = await super().update_an_incoming_number(call)
        with self.store.write() as conn:
            conn.execute("UPDATE numbers SET revision = revision - 1 WHERE sid = ?",
                         (updated.phone_number_id,))
        return updated.model_copy(update={"revision": updated.revision - 1})


class DeleteKeeps(FreeClimbService):
    """DELETE answers 204 for an owned number but the number stays."""

    async def delete_an_incoming_number(self, call: fc_server.DeleteAnIncomingNumberCall) -> None:
        await self.get_an_incoming_number(call)  # type: ignore[arg-type]  # 403/404 as before


class ApplicationNotStored(FreeClimbService):
    """Create answers 201 with a well-formed application, but nothing is stored."""

    async def create_an_application(
        self, call: fc_server.CreateAnApplicationCall
    ) -> fc.Application:
        made = await super().create_an_application(call)
        with self.store.write() as conn:
            conn.execute("DELETE FROM applications WHERE sid = ?", (made.application_id,))
        return made


class ApplicationDeleteKeeps(FreeClimbService):
    """DELETE answers 204 for an owned application but the application stays."""

    async def delete_an_application(self, call: fc_server.DeleteAnApplicationCall) -> None:
        await self.get_an_application(call)  # type: ignore[arg-type]  # 403/404 as before


class BoughtStaysAvailable(FreeClimbService):
    """A bought number is put straight back in the pool, so it can be sold twice."""

    async def buy_a_phone_number(self, call: fc_server.BuyAPhoneNumberCall) -> fc.IncomingNumber:
        bought = await super().buy_a_phone_number(call)
        with self.store.write() as conn:
            row = conn.execute("SELECT * FROM numbers WHERE sid = ?",
                               (bought.phone_number_id,)).fetchone()
            Store.return_to_pool(conn, row)
        return bought


class OtherAccountVisible(FreeClimbService):
    """The listing also shows another account's numbers (the account filter is lost)."""

    async def list_incoming_numbers(
        self, call: fc_server.ListIncomingNumbersCall
    ) -> fc.IncomingNumberList:
        own = await super().list_incoming_numbers(call)
        if call.params.cursor is not None:
            return own
        other = accounts.get_account(self.store, OTHER_FREECLIMB[0], "freeclimb")
        assert other is not None
        theirs = self.logic.list_incoming_numbers(other, other.sid, {})
        items = theirs["incomingPhoneNumbers"] + own.model_dump(by_alias=True, mode="json")[
            "incomingPhoneNumbers"]
        page = fc_page_fields(theirs["total"] + own.total, 0, len(items[:100]), None)
        return fc.IncomingNumberList.model_validate({**page, "incomingPhoneNumbers": items[:100]})


def _other_freeclimb_account(store: Store) -> None:
    accounts.add_freeclimb_account(store, *OTHER_FREECLIMB)
    FreeClimb(store).seed_numbers(OTHER_FREECLIMB[0], 3, seed=7)


def _first_available(store: Store) -> str:
    with store.read() as conn:
        row = conn.execute("SELECT phone_number FROM inventory ORDER BY phone_number").fetchone()
    return str(row[0])


def _malformed_number_bought(store: Store) -> ASGIApp:
    """Buy takes any phoneNumber it cannot read as 'the first available number'."""
    def rewrite(scope: Scope, body: bytes) -> bytes:
        if scope["method"] != "POST" or not str(scope["path"]).endswith("/IncomingPhoneNumbers") \
                or not str(scope["path"]).startswith("/apiserver"):
            return body
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if isinstance(data, dict) and "phoneNumber" in data and not (
                isinstance(data["phoneNumber"], str) and E164.match(data["phoneNumber"])):
            data["phoneNumber"] = _first_available(store)
            return json.dumps(data).encode()
        return body
    return RewriteRequests(create_app(store), rewrite)


# -- Restcomm faults --------------------------------------------------------------------------

def _xml_friendly_name_misnamed(scope: Scope, answer: Answer) -> None:
    if "xml" in answer.media:
        answer.body = answer.body.replace(b"<FriendlyName>", b"<Name>").replace(
            b"</FriendlyName>", b"</Name>").replace(b"<FriendlyName/>", b"<Name/>")


def _drop_json_suffix(number: dict[str, Any]) -> None:
    number["uri"] = str(number.get("uri", "")).removesuffix(".json")


def _caller_id_lookup_as_text(number: dict[str, Any]) -> None:
    number["voice_caller_id_lookup"] = str(number.get("voice_caller_id_lookup")).lower()


def _create_answers_201(scope: Scope, answer: Answer) -> None:
    if scope["method"] == "POST" and answer.status == 200 \
            and re.search(r"/IncomingPhoneNumbers(/Local|/TollFree|/Mobile)?(\.json)?$",
                          str(scope["path"])):
        answer.status = 201


def _rc_next_page_always(scope: Scope, data: Any) -> Any:
    if isinstance(data, dict) and "next_page_uri" in data:
        data["next_page_uri"] = f"{data['uri']}?Page={data['page'] + 1}&PageSize={data['page_size']}"
    return data


def _unknown_method_as_post(scope: Scope, body: bytes) -> bytes:
    """Restcomm: any VoiceMethod other than GET is taken as POST instead of refused."""
    if not str(scope["path"]).startswith("/restcomm") or scope["method"] not in ("POST", "PUT"):
        return body
    text = body.decode("utf-8", "replace")
    return re.sub(r"(^|&)VoiceMethod=(?!GET(&|$))[^&]*", r"\1VoiceMethod=POST", text).encode()


class SubAccountsLeak(RestcommService):
    """The listing also shows the sub-accounts' numbers, which the contract says it must not."""

    async def _list(self, call: Any, number_type: str | None) -> rc.IncomingPhoneNumberPage:
        own = await super()._list(call, number_type)
        p = call.params
        if own.page != 0:
            return own
        fmt: Literal["json", "xml"] = "xml" if "xml" in call.media_type else "json"
        theirs: list[dict[str, Any]] = []
        for login in accounts.RESTCOMM_DEMO_SUBS:
            if login.parent_sid == p.account_sid:
                theirs += self.logic.list_incoming_phone_numbers(
                    call.principal, login.username, {}, fmt)["incomingPhoneNumbers"]
        data = own.model_dump(by_alias=True, mode="json")
        items = (theirs + data["incomingPhoneNumbers"])[: own.page_size]
        total = (own.total if fmt == "json" else own.num_pages) + len(theirs)
        page = rc_page_fields(str(data["uri"]), total, 0, own.page_size, len(items),
                              items[-1]["sid"] if items else None, fmt)
        return rc.IncomingPhoneNumberPage.model_validate({**page, "incomingPhoneNumbers": items})


def _sub_account_numbers(store: Store) -> None:
    for login in accounts.RESTCOMM_DEMO_SUBS:
        Restcomm(store).seed_numbers(login.username, 2, seed=11)


# -- the registry -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    name: str
    provider: Provider
    fault: str
    build: Callable[[Store], ASGIApp]
    caught_by: str  # words of the failure that must name it (a check's title or name)
    # The cheapest run that catches it reliably (fixed seed), used by the tests.
    phases: str = "examples"
    max_examples: int = 5
    setup: Callable[[Store], None] | None = None


def _service(fc_service: type[FreeClimbService] = FreeClimbService,
             rc_service: type[RestcommService] = RestcommService) -> Callable[[Store], ASGIApp]:
    return lambda store: _app(store, fc_service, rc_service)


MUTANTS: dict[str, Mutant] = {m.name: m for m in [
    # FreeClimb
    Mutant("fc-required-field-dropped", "freeclimb", "numbers lose their required `alias`",
           _wrap(_json_rewrite("/apiserver/Accounts", _each_number("phoneNumberId", _drop_alias))),
           caught_by="Response violates schema"),
    Mutant("fc-wrong-type", "freeclimb", "`revision` is sent as a string",
           _wrap(_json_rewrite("/apiserver/Accounts",
                               _each_number("phoneNumberId", _revision_as_text))),
           caught_by="Response violates schema"),
    Mutant("fc-buy-201", "freeclimb", "buy answers 201 instead of 200", _wrap(_buy_answers_201),
           caught_by="Undocumented status code"),
    Mutant("fc-wrong-content-type", "freeclimb", "JSON answers labelled text/plain",
           _wrap(_fc_text_plain),
           caught_by="Undocumented Content-Type"),
    Mutant("fc-auth-ignored", "freeclimb", "credentials that do not log in are served",
           _service(AuthIgnored),
           caught_by="invalid authentication"),
    Mutant("fc-malformed-number-bought", "freeclimb",
           "buy accepts a malformed phoneNumber (buys the first available number)",
           _malformed_number_bought,
           caught_by="Schema-violating request accepted", phases="coverage"),
    Mutant("fc-other-account-visible", "freeclimb", "the list shows another account's numbers",
           _service(OtherAccountVisible), setup=_other_freeclimb_account,
           caught_by="listed_numbers_belong_to_the_account"),
    Mutant("fc-pages-lie", "freeclimb", "numPages is one too many",
           _wrap(_json_rewrite("/apiserver", _fc_pages_lie)),
           caught_by="page_fields_agree"),
    Mutant("fc-revision-stuck", "freeclimb", "revision is not incremented on update",
           _service(RevisionStuck),
           caught_by="revision_grows_on_update"),
    Mutant("fc-deleted-still-there", "freeclimb", "DELETE answers 204 but the number stays",
           _service(DeleteKeeps),
           caught_by="deleted_number_is_gone"),
    Mutant("fc-bought-stays-available", "freeclimb", "a bought number stays in the pool",
           _service(BoughtStaysAvailable),
           caught_by="bought_number_leaves_the_pool"),
    Mutant("fc-uri-not-itself", "freeclimb", "a number's uri names the list, not the number",
           _wrap(_json_rewrite("/apiserver/Accounts",
                               _each_number("phoneNumberId", _uri_names_the_list))),
           caught_by="number_uri_names_it"),
    Mutant("fc-application-not-stored", "freeclimb",
           "create-an-application answers 201 but stores nothing",
           _service(ApplicationNotStored),
           caught_by="Created resource not found", phases="stateful"),
    Mutant("fc-application-delete-keeps", "freeclimb",
           "delete-an-application answers 204 but the application stays",
           _service(ApplicationDeleteKeeps),
           caught_by="deleted_number_is_gone", phases="stateful"),
    # Restcomm
    Mutant("rc-xml-element-misnamed", "restcomm", "XML says <Name> instead of <FriendlyName>",
           _wrap(_xml_friendly_name_misnamed),
           caught_by="xml_schema_conformance"),
    Mutant("rc-json-suffix-missing", "restcomm", "JSON uris lack the `.json` suffix",
           _wrap(_json_rewrite("/restcomm", _each_number("sid", _drop_json_suffix))),
           caught_by="json_uri_suffix"),
    Mutant("rc-wrong-type", "restcomm", "`voice_caller_id_lookup` is sent as a string",
           _wrap(_json_rewrite("/restcomm", _each_number("sid", _caller_id_lookup_as_text))),
           caught_by="Response violates schema"),
    Mutant("rc-create-201", "restcomm", "create answers 201 instead of 200",
           _wrap(_create_answers_201),
           caught_by="Undocumented status code"),
    Mutant("rc-next-page-lies", "restcomm", "next_page_uri is set on the last page too",
           _wrap(_json_rewrite("/restcomm", _rc_next_page_always)),
           caught_by="page_fields_agree"),
    Mutant("rc-unknown-method-accepted", "restcomm",
           "an unknown VoiceMethod is accepted (taken as POST)",
           lambda store: RewriteRequests(create_app(store), _unknown_method_as_post),
           caught_by="Schema-violating request accepted", phases="coverage"),
    Mutant("rc-sub-accounts-visible", "restcomm", "the list shows sub-accounts' numbers",
           _service(rc_service=SubAccountsLeak), setup=_sub_account_numbers,
           caught_by="listed_numbers_belong_to_the_account"),
]}


def build(name: str, store: Store) -> ASGIApp:
    """The named mutant's app on `store` (`none`: the unbroken emulator)."""
    if name == "none":
        return create_app(store)
    mutant = MUTANTS[name]
    if mutant.setup is not None:
        mutant.setup(store)
    return mutant.build(store)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=["none", *MUTANTS])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--db", default=":memory:")
    parser.add_argument("--record", default=None, metavar="FILE")
    args = parser.parse_args(argv)

    import uvicorn

    try:
        store = Store(args.db)
        accounts.ensure_demo_accounts(store)
    except (OSError, sqlite3.Error) as exc:
        print(f"error: cannot open {args.db}: {exc}", file=sys.stderr)
        return 1
    app = build(args.name, store)
    if args.record:
        app = RecordMethods(app, args.record)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and without it every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
