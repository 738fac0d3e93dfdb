"""numspec's Schemathesis hooks and checks: what these two APIs need beyond generic fuzzing.

Loaded by Schemathesis through SCHEMATHESIS_HOOKS (see generator.contract), or imported by a
pytest suite. Settings come from NUMSPEC_CONTRACT_* environment variables or `configure()`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
import xml.etree.ElementTree as ET
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import hypothesis.strategies as st
import jsonschema
import requests
import schemathesis
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from generated.runtime import from_xml
from generator.codegen.ir import Parser
from generator.specload import escape, resolve_pointer

DOC_URI = "urn:numspec:contract"
SETTINGS: dict[str, str] = {}


def configure(provider: str, url: str, auth: tuple[str, str], read_only: bool = False) -> None:
    """Settings for in-process (pytest) use; the CLI passes them through the environment."""
    SETTINGS.update(provider=provider, url=url.rstrip("/"), auth=f"{auth[0]}:{auth[1]}",
                    read_only="1" if read_only else "")


def setting(name: str) -> str:
    return SETTINGS.get(name) or os.environ.get(f"NUMSPEC_CONTRACT_{name.upper()}", "")


# -- reading the contract ----------------------------------------------------------------------

def _document(case: Any) -> dict[str, Any]:
    raw: dict[str, Any] = case.operation.schema.raw_schema
    return raw


@lru_cache(maxsize=8)
def _registry(doc_json: str) -> Registry[Any]:
    resource: Resource[Any] = DRAFT202012.create_resource(json.loads(doc_json))
    registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
    return registry


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
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"{DOC_URI}#{schema_pointer}"},
        registry=_registry(json.dumps(doc, sort_keys=True)),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
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
    try:
        return json.loads(response.content)
    except ValueError:
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
    with requests.Session() as session:
        return session.send(prepared, timeout=10)


# -- hooks: realistic data -----------------------------------------------------------------------

@schemathesis.hook
def flatmap_headers(ctx: Any, headers: dict[str, Any] | None) -> Any:
    """Ask for every media type an operation declares, not just the default one."""
    operation = ctx.operation
    media: list[str] = []
    for response in (operation.definition.raw.get("responses") or {}).values():
        if isinstance(response, dict) and "$ref" in response:
            response = resolve_pointer(operation.schema.raw_schema, response["$ref"][1:])
        for name in (response or {}).get("content", {}) or {}:
            if name not in media and ("json" in name or "xml" in name):
                media.append(name)
    base = dict(headers or {})
    if len(media) < 2:
        return st.just(headers)
    return st.sampled_from([None, *media]).map(
        lambda accept: base if accept is None else {**base, "Accept": accept})


_pool_lock = threading.Lock()
_pool: list[str] = []


def _available_number() -> str | None:
    """A number the server says is buyable (FreeClimb), so buy/get/update/delete walks happen."""
    with _pool_lock:
        if not _pool:
            user, _, password = setting("auth").partition(":")
            try:
                answer = requests.get(f"{setting('url')}/AvailablePhoneNumbers",
                                      auth=(user, password), timeout=10)
                items = answer.json().get("availablePhoneNumbers", [])
            except (requests.RequestException, ValueError, AttributeError):
                return None
            _pool.extend(str(i["phoneNumber"]) for i in items if isinstance(i, dict) and "phoneNumber" in i)
        return _pool.pop() if _pool else None


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    operation = ctx.operation
    if (setting("provider") == "freeclimb" and not setting("read_only")
            and operation.definition.raw.get("operationId") == "buy-a-phone-number"
            and isinstance(body, dict) and isinstance(body.get("phoneNumber"), str)
            and re.fullmatch(r"\+[1-9][0-9]{6,14}", body["phoneNumber"])):
        number = _available_number()
        if number:
            return {**body, "phoneNumber": number}
    return body


# -- checks ----------------------------------------------------------------------------------------

@schemathesis.check
def xml_schema_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """XML answers match the contract's schema, read through its `xml` annotations."""
    if "xml" not in _media(response):
        return None
    doc = _document(case)
    found = _response_content(doc, case, response.status_code)
    if found is None:
        return None  # an undocumented status is status_code_conformance's business
    pointer, content = found
    declared = next((m for m in content if "xml" in m), None)
    if declared is None:
        raise AssertionError(f"answered XML, but the contract declares no XML for {response.status_code}")
    schema = content[declared].get("schema", {})
    parser = Parser(doc)
    shape = parser.xml_shape(schema, "root", 0)
    try:
        data = from_xml(response.content, shape)
    except (ET.ParseError, ValueError) as exc:
        raise AssertionError(f"the XML answer cannot be read as the contract describes: {exc}") from None
    problem = _validate(doc, f"{pointer}/content/{escape(declared)}/schema", _prune(parser, schema, data))
    if problem:
        raise AssertionError(f"the XML answer does not match the contract {problem}")
    return True


def _body(response: Any, case: Any) -> Any:
    """The answer as JSON-shaped data, whichever media type it came in."""
    if "json" in _media(response):
        return _json(response)
    if "xml" in _media(response):
        doc = _document(case)
        found = _response_content(doc, case, response.status_code)
        if not found:
            return None
        declared = next((m for m in found[1] if "xml" in m), None)
        if declared is None:
            return None
        parser = Parser(doc)
        try:
            data = from_xml(response.content, parser.xml_shape(found[1][declared]["schema"], "root", 0))
        except (ET.ParseError, ValueError, KeyError):
            return None
        if isinstance(data, dict) and len(data) == 1:
            data = next(iter(data.values()))  # the XML envelope around the resource
        return data
    return None


@schemathesis.check
def uri_names_the_resource(ctx: Any, response: Any, case: Any) -> bool | None:
    """A fetched resource's `uri` is the path it was fetched from."""
    if case.method.upper() != "GET" or response.status_code != 200:
        return None
    body = _body(response, case)
    if not isinstance(body, dict) or not isinstance(body.get("uri"), str):
        return None
    if any(isinstance(v, list) for v in body.values()):
        return None  # a list page's uri leaves paging out; checked by page_fields_agree
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
def page_fields_agree(ctx: Any, response: Any, case: Any) -> bool | None:
    """Paging fields agree with each other and with the items on the page."""
    if case.method.upper() != "GET" or response.status_code != 200 or "json" not in _media(response):
        return None
    body = _json(response)
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
        items = body["incomingPhoneNumbers"]
        total, size, page = body["total"], body["page_size"], body["page"]
        if body["num_pages"] != total // size:
            raise AssertionError(f"num_pages is {body['num_pages']}, expected {total} // {size}")
        if len(items) > size:
            raise AssertionError(f"{len(items)} items on a page of {size}")
        if body["start"] != str(page * size):
            raise AssertionError(f"start is {body['start']!r} on page {page} of size {size}")
        on_last = page == body["num_pages"]
        if on_last != (body["next_page_uri"] == "null"):
            raise AssertionError(f"next_page_uri is {body['next_page_uri']!r} on page {page}")
        if on_last and body["end"] != str(page * size + len(items)):
            raise AssertionError(f"end is {body['end']!r} on the last page with {len(items)} items")
        return True
    return None


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
    second = again.json() if again.status_code == 200 else None
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
    listed = _resend(response, "GET", f"{base}/AvailablePhoneNumbers?{query}")
    numbers = [i.get("phoneNumber") for i in (listed.json().get("availablePhoneNumbers") or [])] \
        if listed.status_code == 200 else []
    if number in numbers:
        raise AssertionError(f"{number} was bought but is still listed as available")
    return True


@schemathesis.check
def json_uri_suffix(ctx: Any, response: Any, case: Any) -> bool | None:
    """Restcomm: a number's `uri` ends in `.json` in JSON answers and not in XML ones."""
    if response.status_code != 200 or setting("provider") != "restcomm":
        return None
    body = _body(response, case)
    if not isinstance(body, dict) or "sid" not in body or not isinstance(body.get("uri"), str):
        return None
    is_json = "json" in _media(response)
    if body["uri"].endswith(".json") != is_json:
        raise AssertionError(f"`uri` {body['uri']!r} in a {'JSON' if is_json else 'XML'} answer")
    return True


@schemathesis.hook
def flatmap_body(ctx: Any, body: Any) -> Any:
    """Restcomm: make most creates virtual SIP numbers, which need no pool number, so the
    create -> get -> update -> delete links are walked; the rest still try the pool."""
    op_id = str(ctx.operation.definition.raw.get("operationId", ""))
    if (setting("provider") == "restcomm" and not setting("read_only")
            and op_id.startswith("create-") and isinstance(body, dict)
            and "isSIP" not in body and isinstance(body.get("PhoneNumber"), str)
            and re.fullmatch(r"\+?[0-9]{1,15}", body["PhoneNumber"])):
        return st.sampled_from([True, True, False]).map(
            lambda sip: {**body, "isSIP": True, "PhoneNumber": _fresh_sip_number()} if sip else body)
    return st.just(body)


_sip_numbers = itertools.count(int(time.time()) % 10**9 * 1000)


def _fresh_sip_number() -> str:
    """A SIP number no earlier create used (they must be unique within an organisation)."""
    return str(next(_sip_numbers))
