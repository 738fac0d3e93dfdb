"""numspec's Schemathesis hooks and checks: what these two APIs need beyond generic fuzzing.

Loaded by Schemathesis through SCHEMATHESIS_HOOKS (see generator.contract), or imported by a
pytest suite. Settings come from NUMSPEC_CONTRACT_* environment variables or `configure()`.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import os
import re
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import jsonschema
import requests
import schemathesis
from numspec.generated.runtime import from_xml
from numspec.generator.codegen.ir import Parser
from numspec.generator.contract import PROVIDER_ACCOUNT_PARAM
from numspec.generator.specload import escape, resolve_pointer
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

DOC_URI = "urn:numspec:contract"
SETTINGS: dict[str, str] = {}
# contract_pytest's login check when the server was not up at contract_schema(): run before
# each case's request until it passes.
PREFLIGHT: list[Callable[[], None]] = []


def configure(provider: str, url: str, auth: tuple[str, str], read_only: bool = False) -> None:
    """Settings for in-process (pytest) use; the CLI passes them through the environment."""
    SETTINGS.update(provider=provider, url=url.rstrip("/"), auth=f"{auth[0]}:{auth[1]}",
                    read_only="1" if read_only else "")


def setting(name: str) -> str:
    return SETTINGS.get(name) or os.environ.get(f"NUMSPEC_CONTRACT_{name.upper()}", "")


# -- the `numspec contract` child: deadlines and progress -----------------------------------------

_local = threading.local()


def _deadline_exceeded(limit: float) -> TimeoutError:
    return TimeoutError(f"no complete answer within {limit:g} s (--request-timeout)")


def _install_deadline(limit: float) -> None:
    """An overall deadline for every request this process sends through requests (test cases,
    the checks' own, Schemathesis' probes). Per-read timeouts never fire on a server that sends
    one byte every few seconds: each read waits at most what is left of the deadline instead."""
    original_send = requests.Session.send

    def send(self: requests.Session, request: Any, **kwargs: Any) -> Any:
        # The deadline outlives send(): Schemathesis streams and reads the body afterwards.
        # It holds for this thread's socket reads until the next request starts (redirects,
        # sent from inside send(), keep the first request's deadline).
        depth = getattr(_local, "depth", 0)
        if depth == 0:
            _local.deadline = time.monotonic() + limit
        _local.depth = depth + 1
        try:
            return original_send(self, request, **kwargs)
        finally:
            _local.depth = depth

    def bounded(read: Any) -> Any:
        def wrapper(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
            deadline = getattr(_local, "deadline", None)
            if deadline is None:
                return read(sock, *args, **kwargs)
            left = deadline - time.monotonic()
            if left <= 0:
                raise _deadline_exceeded(limit)
            before = sock.gettimeout()
            sock.settimeout(left if before is None else min(before, left))
            try:
                return read(sock, *args, **kwargs)
            except TimeoutError:
                raise _deadline_exceeded(limit) from None
            finally:
                sock.settimeout(before)
        return wrapper

    requests.Session.send = send  # type: ignore[method-assign]
    for cls in (socket.socket, ssl.SSLSocket):
        for name in ("recv", "recv_into"):
            setattr(cls, name, bounded(getattr(cls, name)))


if os.environ.get("NUMSPEC_CONTRACT_DEADLINE"):
    _install_deadline(float(os.environ["NUMSPEC_CONTRACT_DEADLINE"]))

_events_lock = threading.Lock()
_events_file: list[Any] = []  # opened once: an open per answer cost more than the write


def _event(case: Any, status: str) -> None:
    """One line per answer for the parent's progress and its nothing-was-tested verdict."""
    path = os.environ.get("NUMSPEC_CONTRACT_EVENTS")
    if not path:
        return
    phase = case.meta.phase.name if case.meta is not None else "other"
    with _events_lock:
        if not _events_file:
            _events_file.append(open(path, "a", encoding="utf-8", buffering=1))  # noqa: SIM115
        _events_file[0].write(f"{phase} {status}\n")


@schemathesis.hook
def after_call(ctx: Any, case: Any, response: Any) -> None:
    _event(case, str(response.status_code))
    _forget_deleted_application(case, response.status_code)


@schemathesis.hook
def after_network_error(ctx: Any, case: Any, request: Any) -> None:
    _event(case, "no-answer")


# -- reading the contract ----------------------------------------------------------------------

def _document(case: Any) -> dict[str, Any]:
    raw: dict[str, Any] = case.operation.schema.raw_schema
    return raw


class _Reader:
    """What the checks need from one contract document, built once: parsing it for every
    answer cost more than the answers."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.parser = Parser(doc)
        resource: Resource[Any] = DRAFT202012.create_resource(doc)
        self.registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
        self.shapes: dict[str, Any] = {}
        self.validators: dict[str, jsonschema.Draft202012Validator] = {}

    def shape(self, pointer: str, schema: Any) -> Any:
        if pointer not in self.shapes:
            self.shapes[pointer] = self.parser.xml_shape(schema, "root", 0)
        return self.shapes[pointer]

    def validator(self, pointer: str) -> jsonschema.Draft202012Validator:
        if pointer not in self.validators:
            self.validators[pointer] = jsonschema.Draft202012Validator(
                {"$ref": f"{DOC_URI}#{pointer}"}, registry=self.registry,
                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        return self.validators[pointer]


_readers: dict[int, _Reader] = {}
_readers_lock = threading.Lock()


def _reader(doc: dict[str, Any]) -> _Reader:
    with _readers_lock:
        reader = _readers.get(id(doc))
        if reader is None or reader.doc is not doc:
            reader = _readers[id(doc)] = _Reader(doc)
        return reader


def _response_content(doc: dict[str, Any], case: Any, status: int) -> tuple[str, dict[str, Any]] | None:
    """Pointer to and body of the response object the contract gives for this status."""
    path, method = case.operation.path, case.operation.method.lower()
    pointer = f"/paths/{escape(path)}/{method}/responses/{status}"
    try:
        response = resolve_pointer(doc, pointer)
    except KeyError:
        return None
    while isinstance(response, dict) and "$ref" in response:
        pointer = response["$ref"][1:]
        response = resolve_pointer(doc, pointer)
    return pointer, response.get("content", {}) or {}


def _validate(doc: dict[str, Any], schema_pointer: str, data: Any) -> str | None:
    error = jsonschema.exceptions.best_match(_reader(doc).validator(schema_pointer).iter_errors(data))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {where}: {error.message}"


def _allows_null(parser: Parser, schema: Any) -> bool:
    resolved = parser.deref(schema)
    kind = resolved.get("type") if isinstance(resolved, dict) else None
    if isinstance(kind, list) and "null" in kind:
        return True
    options = resolved.get("oneOf", []) + resolved.get("anyOf", []) if isinstance(resolved, dict) else []
    return any(isinstance(o, dict) and o.get("type") == "null" for o in options)


def _prune(parser: Parser, schema: Any, data: Any) -> Any:
    """XML has no null: an absent element is null where the schema allows it, else absent."""
    merged = parser.merged(schema)
    if isinstance(data, dict):
        props = merged.get("properties", {})
        out = {}
        for key, value in data.items():
            sub = props.get(key, {})
            if value is None and not _allows_null(parser, sub):
                continue
            out[key] = _prune(parser, sub, value)
        return out
    if isinstance(data, list):
        return [_prune(parser, merged.get("items", {}), v) for v in data]
    return data


def _media(response: Any) -> str:
    values = response.headers.get("content-type") or [""]
    return str(values[0]).split(";")[0].strip().lower()


def _json(response: Any) -> Any:
    """The JSON body or None; Schemathesis' responses parse it once for every check."""
    try:
        return response.json()
    except ValueError:
        return None


# -- hooks: realistic data -----------------------------------------------------------------------

def _answer_media(operation: Any) -> list[str]:
    """The media types an operation's success answers come in, as the contract lists them."""
    media: list[str] = []
    for status, response in (operation.definition.raw.get("responses") or {}).items():
        if not str(status).startswith("2"):
            continue
        if isinstance(response, dict) and "$ref" in response:
            response = resolve_pointer(operation.schema.raw_schema, response["$ref"][1:])
        for name in (response or {}).get("content", {}) or {}:
            if name not in media and ("json" in name or "xml" in name):
                media.append(name)
    return media


# Where each provider keeps the account and the number's own id, in paths and in bodies.
NUMBER_PARAM = {"freeclimb": "phoneNumberId", "restcomm": "Sid"}
ID_FIELD = {"freeclimb": "phoneNumberId", "restcomm": "sid"}
ACCOUNT_FIELD = {"freeclimb": "accountId", "restcomm": "account_sid"}
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _auth() -> tuple[str, str]:
    user, _, password = setting("auth").partition(":")
    return user, password


_sessions = threading.local()


def _session() -> requests.Session:
    """This thread's session for numspec's own requests: one kept-alive connection instead of a
    new one (and a new session) per request. It keeps no cookies, so each request stands alone
    as before."""
    session: requests.Session | None = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def _call(method: str, url: str, **kwargs: Any) -> requests.Response | None:
    """One request of numspec's own (not a test case); None when the server cannot be reached."""
    try:
        return _session().request(method, url, auth=_auth(), timeout=10, **kwargs)
    except requests.RequestException:
        return None


def _answer_json(answer: requests.Response | None) -> Any:
    if answer is None or answer.status_code != 200:
        return None
    try:
        return answer.json()
    except ValueError:
        return None


_supply_lock = threading.Lock()
_pool: list[str] = []
_owned: dict[str, list[str]] = {}
_turns: dict[str, itertools.count[int]] = {}


def _available_number() -> str | None:
    """FreeClimb: a number the server says is buyable, so buys succeed and walks happen."""
    with _supply_lock:
        if not _pool:
            data = _answer_json(_call("GET", f"{setting('url')}/AvailablePhoneNumbers"))
            items = data.get("availablePhoneNumbers") if isinstance(data, dict) else None
            _pool.extend(str(i["phoneNumber"]) for i in items or []
                         if isinstance(i, dict) and isinstance(i.get("phoneNumber"), str))
            _pool.reverse()  # pop() then takes them in the server's order
        return _pool.pop() if _pool else None


def _numbers_url(case: Any) -> str:
    """The account's number collection (JSON for Restcomm), from any path under it."""
    path = str(case.formatted_path)
    base = path[: path.index("/IncomingPhoneNumbers")] + "/IncomingPhoneNumbers"
    return setting("url") + base + (".json" if setting("provider") == "restcomm" else "")


def _new_number(case: Any) -> str | None:
    """Buy (FreeClimb) or create (Restcomm, a SIP number) one number; its id."""
    provider = setting("provider")
    if provider == "freeclimb":
        phone_number = _available_number()
        if phone_number is None:
            return None
        data = _answer_json(_call("POST", _numbers_url(case), json={"phoneNumber": phone_number}))
    else:
        data = _answer_json(_call("POST", _numbers_url(case), headers={"Accept": "application/json"},
                                  data={"PhoneNumber": _fresh_sip_number(), "isSIP": "true"}))
    number_id = data.get(ID_FIELD[provider]) if isinstance(data, dict) else None
    return number_id if isinstance(number_id, str) else None


def _owned_number(case: Any, consume: bool) -> str | None:
    """Id of a number the account owns: listed, or (unless read-only) bought for the purpose.
    A consumed id (one about to be deleted) is not handed out again."""
    provider = setting("provider")
    with _supply_lock:
        ids = _owned.setdefault(case.path_parameters.get(PROVIDER_ACCOUNT_PARAM[provider], ""), [])
        if not ids:
            data = _answer_json(_call("GET", _numbers_url(case),
                                      headers={"Accept": "application/json"}))
            items = data.get("incomingPhoneNumbers") if isinstance(data, dict) else None
            ids.extend(str(i[ID_FIELD[provider]]) for i in items or []
                       if isinstance(i, dict) and ID_FIELD[provider] in i)
    if not ids and not setting("read_only"):
        new = _new_number(case)
        with _supply_lock:
            ids.extend([new] if new else [])
    with _supply_lock:
        if not ids:
            return None
        return ids.pop() if consume else ids[-1]


_applications: dict[str, str] = {}
APPLICATION_ID = re.compile(r"AP[0-9a-fA-F]{40}")


def _forget_deleted_application(case: Any, status: int) -> None:
    """A test case that deleted our application (Schemathesis reuses ids it saw in answers)
    makes _application create another; watching the deletes spares a GET before every use."""
    if case.method.upper() != "DELETE" or not 200 <= status < 300:
        return
    app_id = str((case.path_parameters or {}).get("applicationId", ""))
    with _supply_lock:
        for account, known in list(_applications.items()):
            if known == app_id:
                del _applications[account]


def _application(account: str) -> str | None:
    """FreeClimb: an application of the account, so a number's `applicationId` names a real
    one (the contract refuses any other with 400). Made once, and again after a test case
    deleted it (see _forget_deleted_application)."""
    base = f"{setting('url')}/Accounts/{account}/Applications"
    with _supply_lock:
        if account not in _applications:
            answer = _call("POST", base, json={"alias": "numspec contract"})
            data = answer.json() if answer is not None and answer.status_code == 201 else None
            app_id = data.get("applicationId") if isinstance(data, dict) else None
            if not isinstance(app_id, str):
                return None
            _applications[account] = app_id
        return _applications[account]


def _turn(key: str, of: int) -> int:
    """Deterministic round robin: 0, 1, ..., of - 1, 0, ... per key."""
    with _supply_lock:
        return next(_turns.setdefault(key, itertools.count())) % of


def _my_turn(key: str, every: int, of: int) -> bool:
    """True for `every` calls out of each `of` (per key)."""
    return _turn(key, of) < every


_sip_numbers = itertools.count(int(time.time()) % 10**9 * 1000)


def _fresh_sip_number() -> str:
    """A SIP number no earlier create used (they must be unique within an organisation)."""
    with _supply_lock:
        return str(next(_sip_numbers))


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Real data where generated data can only miss, in every phase (also under pytest).

    Where the contract offers JSON and XML, requests take turns asking for none, one and the
    other (Accept). Valid buys get a number from the pool (FreeClimb) or become SIP numbers with a fresh
    number (Restcomm, two creates in three); a valid FreeClimb `applicationId` in a buy or an
    update names a real application of the account; every other valid case on one number names
    a number the account really owns; the rest keep their generated values, so the 404 and
    "not available" answers are still exercised. Values are replaced with new containers,
    never edited in place: Schemathesis derives later cases from the same dicts.
    """
    for check in PREFLIGHT[:1]:
        check()
    meta = case.meta
    if meta is None:
        return
    provider = setting("provider")
    op_id = str(case.operation.definition.raw.get("operationId", ""))
    media = _answer_media(case.operation)
    headers = dict(case.headers or {})
    if (len(media) > 1 and not meta.is_negative_at(ParameterLocation.HEADER)
            and not any(name.lower() == "accept" for name in headers)):
        turn = _turn(f"accept {op_id}", len(media) + 1)
        if turn:
            case.headers = {**headers, "Accept": media[turn - 1]}
    body = case.body
    if (not setting("read_only") and isinstance(body, dict)
            and not meta.is_negative_at(ParameterLocation.BODY)):
        if (provider == "freeclimb" and op_id == "buy-a-phone-number"
                and isinstance(body.get("phoneNumber"), str)
                and E164.fullmatch(body["phoneNumber"])):
            number = _available_number()
            if number:
                case.body = body = {**body, "phoneNumber": number}
        elif (provider == "restcomm" and op_id.startswith("create-") and "isSIP" not in body
                and isinstance(body.get("PhoneNumber"), str)  # any text: the contract allows it
                and _my_turn("create", 2, 3)):
            case.body = {**body, "isSIP": True, "PhoneNumber": _fresh_sip_number()}
        if (provider == "freeclimb" and op_id in ("buy-a-phone-number", "update-an-incoming-number")
                and isinstance(body.get("applicationId"), str)
                and APPLICATION_ID.fullmatch(body["applicationId"])):
            app_id = _application(str((case.path_parameters or {}).get("accountId", "")))
            if app_id:
                case.body = {**body, "applicationId": app_id}
    param = NUMBER_PARAM.get(provider, "")
    params = case.path_parameters
    if (params and param in params and not meta.is_negative_at(ParameterLocation.PATH)
            and meta.phase.name != TestPhase.STATEFUL  # there the links supply the ids
            and _my_turn(op_id, 1, 2)):
        number_id = _owned_number(case, consume=case.method.upper() == "DELETE")
        if number_id:
            case.path_parameters = {**params, param: number_id}


# -- checks ----------------------------------------------------------------------------------------

class _XmlAnswer:
    """An XML answer read through the contract's `xml` annotations, once per response."""

    def __init__(self, pointer: str, schema: Any, data: Any = None,
                 problem: str | None = None) -> None:
        self.pointer, self.schema, self.data, self.problem = pointer, schema, data, problem


_xml_answers: dict[int, tuple[Any, _XmlAnswer | None]] = {}  # id(response) -> (response, read)
_xml_lock = threading.Lock()


def _xml_answer(response: Any, case: Any) -> _XmlAnswer | None:
    """None when the contract declares no XML for this status (or none at all for it)."""
    with _xml_lock:
        cached = _xml_answers.get(id(response))
    if cached is not None and cached[0] is response:
        return cached[1]
    doc = _document(case)
    found = _response_content(doc, case, response.status_code)
    declared = next((m for m in found[1] if "xml" in m), None) if found else None
    answer = None
    if found is not None and declared is not None:
        pointer = f"{found[0]}/content/{escape(declared)}/schema"
        schema = found[1][declared].get("schema", {})
        answer = _XmlAnswer(pointer, schema)
        try:
            answer.data = from_xml(response.content, _reader(doc).shape(pointer, schema))
        except (ET.ParseError, ValueError, KeyError) as exc:
            answer.problem = str(exc) or type(exc).__name__
    with _xml_lock:
        if len(_xml_answers) > 64:  # only the answer under check is ever asked for again
            _xml_answers.clear()
        _xml_answers[id(response)] = (response, answer)
    return answer


@schemathesis.check
def xml_schema_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """XML answers match the contract's schema, read through its `xml` annotations."""
    if "xml" not in _media(response):
        return None
    if _response_content(_document(case), case, response.status_code) is None:
        return None  # an undocumented status is status_code_conformance's business
    answer = _xml_answer(response, case)
    if answer is None:
        raise AssertionError(f"answered XML, but the contract declares no XML for {response.status_code}")
    if answer.problem is not None:
        raise AssertionError(f"the XML answer cannot be read as the contract describes: "
                             f"{answer.problem}")
    doc = _document(case)
    problem = _validate(doc, answer.pointer, _prune(_reader(doc).parser, answer.schema, answer.data))
    if problem:
        raise AssertionError(f"the XML answer does not match the contract {problem}")
    return True


def _body(response: Any, case: Any) -> Any:
    """The answer as JSON-shaped data, whichever media type it came in."""
    if "json" in _media(response):
        return _json(response)
    if "xml" in _media(response):
        answer = _xml_answer(response, case)
        if answer is None or answer.problem is not None:
            return None
        data = answer.data
        if isinstance(data, dict) and len(data) == 1:
            data = next(iter(data.values()))  # the XML envelope around the resource
        return data
    return None


def _numbers(body: Any) -> list[dict[str, Any]]:
    """The numbers in an answer: the answer itself, or the items of a page."""
    if not isinstance(body, dict):
        return []
    if ID_FIELD.get(setting("provider"), "") in body:
        return [body]
    items = body.get("incomingPhoneNumbers")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _path_account(case: Any) -> str | None:
    account = (case.path_parameters or {}).get(PROVIDER_ACCOUNT_PARAM.get(setting("provider"), ""))
    return account if isinstance(account, str) else None


@schemathesis.check
def uri_names_the_resource(ctx: Any, response: Any, case: Any) -> bool | None:
    """A fetched number's `uri` is the path it was fetched from."""
    if case.method.upper() != "GET" or response.status_code != 200:
        return None
    body = _body(response, case)
    if not isinstance(body, dict) or not isinstance(body.get("uri"), str):
        return None
    if any(isinstance(v, list) for v in body.values()):
        return None  # a page's uri leaves paging out; its numbers are number_uri_names_it's
    expected = case.formatted_path
    uri = body["uri"].split("?")[0]
    # Restcomm starts `uri` with the number's own ApiVersion, which may differ from the path's,
    # and ends it with `.json` in every JSON answer (json_uri_suffix checks that part).
    if "/Accounts/" in uri and "/Accounts/" in expected:
        uri, expected = uri[uri.index("/Accounts/"):], expected[expected.index("/Accounts/"):]
    uri, expected = uri.removesuffix(".json"), expected.removesuffix(".json")
    if uri != expected:
        raise AssertionError(f"`uri` is {body['uri']!r} but the resource was fetched at "
                             f"{case.formatted_path!r}")
    return True


@schemathesis.check
def number_uri_names_it(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every number in a successful answer (bought, updated, listed) has a `uri` that is its own
    path: under the path's account, ending in the number's id."""
    if not 200 <= response.status_code < 300:
        return None
    provider, account = setting("provider"), _path_account(case)
    numbers = _numbers(_body(response, case))
    if not numbers or account is None:
        return None
    for number in numbers:
        uri, number_id = number.get("uri"), number.get(ID_FIELD[provider])
        if not isinstance(uri, str) or not isinstance(number_id, str):
            continue  # a missing field is the schema checks' business
        path = uri.split("?")[0].removesuffix(".json")
        if not path.endswith(f"/Accounts/{account}/IncomingPhoneNumbers/{number_id}"):
            raise AssertionError(f"number {number_id} has `uri` {uri!r}, which is not "
                                 f".../Accounts/{account}/IncomingPhoneNumbers/{number_id}")
    return True


@schemathesis.check
def listed_numbers_belong_to_the_account(ctx: Any, response: Any, case: Any) -> bool | None:
    """A list shows the path account's own numbers only: not another account's, and (Restcomm)
    not its sub-accounts'."""
    if case.method.upper() != "GET" or response.status_code != 200:
        return None
    body = _body(response, case)
    account = _path_account(case)
    if not isinstance(body, dict) or "incomingPhoneNumbers" not in body or account is None:
        return None
    field = ACCOUNT_FIELD[setting("provider")]
    strangers = sorted({str(n.get(field)) for n in _numbers(body) if n.get(field) != account})
    if strangers:
        raise AssertionError(f"the list of {account}'s numbers shows numbers of "
                             f"{', '.join(strangers)}")
    return True


@schemathesis.check
def page_fields_agree(ctx: Any, response: Any, case: Any) -> bool | None:
    """Paging fields agree with each other and with the items on the page."""
    if case.method.upper() != "GET" or response.status_code != 200:
        return None
    body = _body(response, case)
    if not isinstance(body, dict):
        return None
    if "numPages" in body and ("incomingPhoneNumbers" in body or "availablePhoneNumbers" in body):
        items = body.get("incomingPhoneNumbers", body.get("availablePhoneNumbers")) or []
        total, size, page, pages = body["total"], body["pageSize"], body["page"], body["numPages"]
        if len(items) > size:
            raise AssertionError(f"{len(items)} items on a page of {size}")
        if pages != (total + size - 1) // size:
            raise AssertionError(f"numPages is {pages}, but {total} items at {size} a page make "
                                 f"{(total + size - 1) // size}")
        if items and body["end"] - body["start"] + 1 != len(items):
            raise AssertionError(f"start {body['start']} and end {body['end']} do not span the "
                                 f"{len(items)} items on the page")
        last = page >= pages - 1
        if last != (body["nextPageUri"] is None):
            raise AssertionError(f"nextPageUri is {body['nextPageUri']!r} on page {page} of {pages}")
        return True
    if "num_pages" in body and "incomingPhoneNumbers" in body:
        items = body["incomingPhoneNumbers"] or []
        total, size, page = body["total"], body["page_size"], body["page"]
        # Restcomm's `num_pages` is really the last page's index; in XML `total` repeats it.
        if "json" in _media(response) and body["num_pages"] != total // size:
            raise AssertionError(f"num_pages is {body['num_pages']}, expected {total} // {size}")
        if len(items) > size:
            raise AssertionError(f"{len(items)} items on a page of {size}")
        if body["start"] != str(page * size):
            raise AssertionError(f"start is {body['start']!r} on page {page} of size {size}")
        on_last = page == body["num_pages"]
        if on_last != (body["next_page_uri"] == "null"):
            raise AssertionError(f"next_page_uri is {body['next_page_uri']!r} on page {page} "
                                 f"(the last is {body['num_pages']})")
        if on_last and body["end"] != str(page * size + len(items)):
            raise AssertionError(f"end is {body['end']!r} on the last page with {len(items)} items")
        return True
    return None


def _resend(response: Any, method: str, url: str | None = None) -> requests.Response:
    """Repeat the checked request (same auth) with another method or URL."""
    prepared = response.request.copy()
    prepared.method = method
    if url is not None:
        prepared.url = url
    if method in ("GET", "DELETE"):
        prepared.body = None
        prepared.headers.pop("Content-Length", None)
        prepared.headers.pop("Content-Type", None)
    try:
        return _session().send(prepared, timeout=10)
    except requests.RequestException as exc:
        raise AssertionError(f"the follow-up {method} {prepared.url} got no answer: "
                             f"{type(exc).__name__}") from None


@schemathesis.check
def revision_grows_on_update(ctx: Any, response: Any, case: Any) -> bool | None:
    """FreeClimb: every update adds one to `revision` (checked by updating once more)."""
    if (case.operation.definition.raw.get("operationId") != "update-an-incoming-number"
            or response.status_code != 200):
        return None
    first = _json(response)
    if not isinstance(first, dict) or not isinstance(first.get("revision"), int):
        return None
    again = _resend(response, "POST")
    second = _json(again) if again.status_code == 200 else None
    if not isinstance(second, dict) or second.get("revision") != first["revision"] + 1:
        got = second.get("revision") if isinstance(second, dict) else f"HTTP {again.status_code}"
        raise AssertionError(f"revision went from {first['revision']} to {got} on a second update")
    return True


@schemathesis.check
def deleted_number_is_gone(ctx: Any, response: Any, case: Any) -> bool | None:
    """After a successful DELETE the same URL answers 404."""
    if case.method.upper() != "DELETE" or response.status_code != 204:
        return None
    after = _resend(response, "GET")
    if after.status_code != 404:
        raise AssertionError(f"GET after DELETE answered {after.status_code}, not 404")
    return True


@schemathesis.check
def bought_number_leaves_the_pool(ctx: Any, response: Any, case: Any) -> bool | None:
    """FreeClimb: a bought number is no longer listed under /AvailablePhoneNumbers."""
    if (case.operation.definition.raw.get("operationId") != "buy-a-phone-number"
            or response.status_code != 200):
        return None
    body = _json(response)
    number = body.get("phoneNumber") if isinstance(body, dict) else None
    if not isinstance(number, str):
        return None
    url = str(response.request.url)
    base = url[: url.index("/Accounts/")] if "/Accounts/" in url else setting("url")
    query = urlencode({"phoneNumber": "^" + re.escape(number) + "$"})
    listed = _json(_resend(response, "GET", f"{base}/AvailablePhoneNumbers?{query}"))
    items = listed.get("availablePhoneNumbers") if isinstance(listed, dict) else None
    if number in [i.get("phoneNumber") for i in items or [] if isinstance(i, dict)]:
        raise AssertionError(f"{number} was bought but is still listed as available")
    return True


@schemathesis.check
def json_uri_suffix(ctx: Any, response: Any, case: Any) -> bool | None:
    """Restcomm: a number's `uri` ends in `.json` in JSON answers and not in XML ones."""
    if not 200 <= response.status_code < 300 or setting("provider") != "restcomm":
        return None
    is_json = "json" in _media(response)
    numbers = [n for n in _numbers(_body(response, case)) if isinstance(n.get("uri"), str)]
    for number in numbers:
        if number["uri"].endswith(".json") != is_json:
            raise AssertionError(f"`uri` {number['uri']!r} in a {'JSON' if is_json else 'XML'} "
                                 "answer")
    return True if numbers else None
