"""What generated clients put on the wire and what generated stubs read back from it.

The fixture tests/fixtures/thirdparty/wire.yaml holds parameters in every OpenAPI style,
bodies that are not JSON (multipart with files, bytes, text, XML), every kind of security
scheme and a server URL with variables. Exact wire text is checked against the OpenAPI
serialisation rules with an in-process transport (no network); then the generated clients
talk to the generated stubs over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI

from tests.loopback_server import serve

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "thirdparty" / "wire.yaml"
BIN = Path(sys.executable).parent
KEY = "k-123"


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=False, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("wire") / "wire_gen"
    result = run(BIN / "numspec", "generate", "--spec", FIXTURE, "--out", target)
    assert result.returncode == 0, result.stderr
    return target


@pytest.fixture(scope="module")
def mods(out: Path) -> dict[str, ModuleType]:
    names = ["runtime"] + [f"{p}.{m}" for p in ("catalog", "files", "gate")
                           for m in ("models", "client", "server")]
    sys.path.insert(0, str(out.parent))
    try:
        return {name: importlib.import_module(f"{out.name}.{name}") for name in names}
    finally:
        sys.path.remove(str(out.parent))


def test_output_passes_ruff_and_mypy_strict(out: Path) -> None:
    ruff = run(BIN / "ruff", "check", "--no-cache", "--config", ROOT / "pyproject.toml", out)
    assert ruff.returncode == 0, ruff.stdout
    mypy = run(BIN / "mypy", "--strict", "--no-incremental", out.name, cwd=out.parent)
    assert mypy.returncode == 0, mypy.stdout


# --------------------------------------------------------------------------- exact wire text


class Recorder:
    """An in-process transport: keeps each request and answers with an empty Echo."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(201 if request.url.path.endswith("/uploads") else 200,
                              json={"seen": {}})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def recorded(client_class: Any, **credentials: Any) -> tuple[Any, Recorder]:
    recorder = Recorder()
    client = client_class(**credentials, base_url="https://h/v2",
                          transport=httpx.MockTransport(recorder))
    return client, recorder


def test_query_path_header_cookie_styles(mods: dict[str, ModuleType]) -> None:
    client, rec = recorded(mods["catalog.client"].CatalogClient, api_key=KEY)
    client.find_items([3, 4, 5], filter={"color": "red", "size": "L"}, tag=["a", "b"],
                      sizes=["s", "m"], codes=[1, 2], fields=["x", "y"], x_trace=["t1", "t2"],
                      session="s1", where={"q": 1})
    sent = rec.last
    assert sent.url.path == "/v2/items/3,4,5"  # simple array in the path
    assert unquote(sent.url.query.decode()).replace("+", " ") == (
        "filter[color]=red&filter[size]=L&tag=a&tag=b&sizes=s m&codes=1|2&fields=x,y"
        '&where={"q": 1}')
    assert sent.headers["X-Trace"] == "t1,t2" and sent.headers["Cookie"] == "session=s1"
    assert sent.headers["X-Api-Key"] == KEY  # the document's default security
    client.get_point({"x": "1", "y": "2"}, ["a", "b"], mode={"a": "1", "b": "2"})
    assert rec.last.url.raw_path.decode() == "/v2/points/.x=1.y=2/;coords=a;coords=b?mode=a%2C1%2Cb%2C2"


def test_security_schemes_on_the_wire(mods: dict[str, ModuleType]) -> None:
    gate = mods["gate.client"].GateClient
    client, rec = recorded(gate, username="u", password="p", bearer_auth="tok",
                           header_key="hk", query_key="qk", cookie_key="ck", oauth="at")
    client.via_basic()
    assert rec.last.headers["Authorization"] == "Basic dTpw"
    client.via_bearer()
    assert rec.last.headers["Authorization"] == "Bearer tok"
    client.via_header_key()
    assert rec.last.headers["X-Api-Key"] == "hk" and "Authorization" not in rec.last.headers
    client.via_query_key()
    assert rec.last.url.params["api_key"] == "qk"
    client.via_cookie_key()
    assert rec.last.headers["Cookie"] == "token=ck"
    client.via_oauth()
    assert rec.last.headers["Authorization"] == "Bearer at"
    client.via_header_and_query_key()
    assert rec.last.headers["X-Api-Key"] == "hk" and rec.last.url.params["api_key"] == "qk"
    client.open()  # security: [] sends nothing, whatever the client holds
    assert not {"authorization", "x-api-key", "cookie"} & set(rec.last.headers)
    # Alternatives: the first whose credentials were all given.
    only_token, rec2 = recorded(gate, bearer_auth="tok")
    only_token.via_basic_or_bearer()
    assert rec2.last.headers["Authorization"] == "Bearer tok"
    nothing, rec3 = recorded(gate)
    nothing.via_optional_bearer()
    assert "authorization" not in rec3.last.headers


def test_constructors_take_the_credentials_the_schemes_need(mods: dict[str, ModuleType]) -> None:
    import inspect

    def params(cls: Any) -> list[str]:
        return list(inspect.signature(cls.__init__).parameters)[1:]

    # One scheme every operation needs: positional, required.
    assert params(mods["catalog.client"].CatalogClient)[:1] == ["api_key"]
    catalog = inspect.signature(mods["catalog.client"].CatalogClient.__init__).parameters
    assert catalog["api_key"].default is inspect.Parameter.empty
    # Several schemes: keyword-only and optional, named by kind or after the scheme.
    assert params(mods["gate.client"].AsyncGateClient) == [
        "username", "password", "bearer_auth", "header_key", "query_key", "cookie_key", "oauth",
        "base_url", "timeout", "transport"]


def test_server_variables_and_base_path(mods: dict[str, ModuleType]) -> None:
    client = mods["catalog.client"]
    assert client.DEFAULT_BASE_URL == "https://eu.wire.example.com/v2"
    assert client.server_url() == client.DEFAULT_BASE_URL
    assert client.server_url(region="us", version="v3") == "https://us.wire.example.com/v3"
    assert mods["catalog.server"].BASE_PATH == "/v2"


def test_bodies_on_the_wire(mods: dict[str, ModuleType]) -> None:
    m, runtime = mods["files.models"], mods["runtime"]
    client, rec = recorded(mods["files.client"].FilesClient, api_key=KEY)
    client.put_blob("b", b"\x00\xff")
    assert rec.last.headers["Content-Type"] == "application/octet-stream"
    assert rec.last.content == b"\x00\xff"
    client.add_note("hello")
    assert rec.last.headers["Content-Type"] == "text/plain" and rec.last.content == b"hello"
    client.place_order(m.Order(sku="A1", quantity=2, gift=True))
    assert rec.last.headers["Content-Type"] == "application/vnd.shop+xml"
    assert rec.last.content == b"<order><sku>A1</sku><quantity>2</quantity><gift>true</gift></order>"
    client.place_order_any_way(m.Order(sku="A1"))  # JSON is preferred among several
    assert rec.last.headers["Content-Type"] == "application/json"
    client.upload(m.UploadBody(title="t", labels=["x", "y"]),
                  document=runtime.File(b"%PDF", "a.pdf", "application/pdf"))
    assert rec.last.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'filename="a.pdf"' in rec.last.content and b"%PDF" in rec.last.content


# --------------------------------------------------------------------------- loopback round trips


class Impl:
    """One implementation for every generated Protocol: each operation echoes what it got."""

    def __init__(self, mods: dict[str, ModuleType], package: str) -> None:
        self.m, self.runtime = mods[f"{package}.models"], mods["runtime"]
        self.accept_missing = False

    async def authenticate(self, credentials: Any, account: str | None) -> Any:
        if credentials is None:
            if self.accept_missing:
                return "nobody"  # a careless implementation: the stub still answers 401
            raise self.reject(401, "who are you?", "", None)
        if "headerKey" in credentials and credentials["headerKey"] != KEY:
            raise self.reject(401, "bad key", "", None)
        return credentials

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> Any:
        return self.runtime.ApiError(status, self.m.Problem(message=problem))

    def __getattr__(self, name: str) -> Any:
        async def operation(call: Any) -> Any:
            seen: dict[str, Any] = {"principal": call.principal,
                                    "params": call.params.model_dump(mode="json", exclude_none=True)}
            body = getattr(call, "body", None)
            if isinstance(body, bytes):
                seen["body"] = list(body)
            elif body is not None:
                seen["body"] = body if isinstance(body, str) else body.model_dump(mode="json")
            for key in ("document", "attachments"):
                files = getattr(call, key, None)
                for file in files if isinstance(files, list) else [files] if files else []:
                    seen.setdefault(key, []).append(
                        [file.filename, file.content_type, file.content.decode("latin-1")])
            return self.m.Echo(seen=seen)

        return operation


@pytest.fixture(scope="module")
def served(mods: dict[str, ModuleType]) -> Iterator[tuple[str, dict[str, Impl]]]:
    app = FastAPI()
    impls = {name: Impl(mods, name) for name in ("catalog", "files", "gate")}
    for name, impl in impls.items():
        server = mods[f"{name}.server"]
        app.include_router(server.create_router(impl), prefix=server.BASE_PATH)
    with serve(app) as url:
        yield url + mods["catalog.server"].BASE_PATH, impls


def test_round_trip_parameters(mods: dict[str, ModuleType], served: tuple[str, Any]) -> None:
    base, _ = served
    with mods["catalog.client"].CatalogClient(KEY, base_url=base) as client:
        seen = client.find_items([3, 4], filter={"color": "red", "size": "L"}, tag=["a", "b"],
                                 expand=["data.owner"], created={"gt": 5},
                                 sizes=["s", "m"], codes=[1, 2], fields=["x", "y"],
                                 x_trace=["t1", "t2"], session="s1", where={"q": [1]}).seen
        assert seen["params"] == {
            "ids": [3, 4], "filter": {"color": "red", "size": "L"}, "tag": ["a", "b"],
            "expand": ["data.owner"], "created": {"gt": "5"},
            "sizes": ["s", "m"], "codes": [1, 2], "fields": ["x", "y"],
            "x_trace": ["t1", "t2"], "session": "s1", "where": {"q": [1]}}
        # deepObject with anyOf: a plain value is read too.
        assert client.find_items([1], created=7).seen["params"]["created"] == "7"
        assert seen["principal"] == {"headerKey": KEY}
        point = client.get_point({"x": "1", "y": "2"}, ["a", "b"], mode={"a": "1", "b": "2"},
                                 json_="j", limit=3).seen
        assert point["params"] == {"point": {"x": "1", "y": "2"}, "coords": ["a", "b"],
                                   "mode": {"a": "1", "b": "2"}, "json_": "j", "limit": 3}
        assert client.search(q="x y").seen["params"] == {"q": "x y"}
        # The stub validates item types: codes are integers.
        refused = httpx.get(base + "/items/1", params={"codes": "1|x"}, headers={"X-Api-Key": KEY})
        assert refused.status_code == 400


def test_round_trip_bodies(mods: dict[str, ModuleType], served: tuple[str, Any]) -> None:
    base, _ = served
    m, runtime = mods["files.models"], mods["runtime"]
    binary = bytes(range(256)) + b"\r\n--\r\n\n\r"

    async def calls() -> None:
        async with mods["files.client"].AsyncFilesClient(KEY, base_url=base) as client:
            seen = (await client.upload(
                m.UploadBody(title="report", labels=["x", "y"], meta={"owner": "ann"}),
                document=runtime.File(binary, "a.bin", "application/octet-stream"),
                attachments=[runtime.File(b"P1", "1.png", "image/png"),
                             runtime.File(b"P2", "2.png", "image/png")])).seen
            assert seen["body"] == {"title": "report", "labels": ["x", "y"],
                                    "meta": {"owner": "ann"}}
            assert seen["document"] == [["a.bin", "application/octet-stream",
                                         binary.decode("latin-1")]]
            assert [a[0] for a in seen["attachments"]] == ["1.png", "2.png"]
            assert (await client.put_blob("b", binary)).seen["body"] == list(binary)
            assert (await client.add_note("héllo")).seen["body"] == "héllo"
            order = m.Order(sku="A1", quantity=2, gift=True)
            assert (await client.place_order(order)).seen["body"] == order.model_dump(mode="json")
            assert (await client.place_order_any_way(order)).seen["body"]["sku"] == "A1"
            batch = m.PlaceOrdersBody([order, m.Order(sku="B2")])
            assert [o["sku"] for o in (await client.place_orders(batch)).seen["body"]] == [
                "A1", "B2"]

    asyncio.run(calls())
    # The stub checks the multipart form: the document file is required.
    missing = httpx.post(base + "/uploads", data={"title": "t"}, files={"other": b"x"},
                         headers={"X-Api-Key": KEY})
    assert missing.status_code == 400 and "document" in missing.json()["message"]
    too_long = httpx.post(base + "/uploads", data={"title": "t" * 41},
                          files={"document": b"x"}, headers={"X-Api-Key": KEY})
    assert too_long.status_code == 400


@pytest.mark.parametrize(("operation", "credentials", "principal"), [
    ("via_basic", {"username": "u", "password": "p"}, {"basicAuth": ["u", "p"]}),
    ("via_bearer", {"bearer_auth": "tok"}, {"bearerAuth": "tok"}),
    ("via_header_key", {"header_key": KEY}, {"headerKey": KEY}),
    ("via_query_key", {"query_key": "qk"}, {"queryKey": "qk"}),
    ("via_cookie_key", {"cookie_key": "ck"}, {"cookieKey": "ck"}),
    ("via_oauth", {"oauth": "at"}, {"oauth": "at"}),
    ("via_header_and_query_key", {"header_key": KEY, "query_key": "qk"},
     {"headerKey": KEY, "queryKey": "qk"}),
    ("via_basic_or_bearer", {"bearer_auth": "tok"}, {"bearerAuth": "tok"}),
    ("via_optional_bearer", {"bearer_auth": "tok"}, {"bearerAuth": "tok"}),
    ("via_optional_bearer", {}, None),
    ("open", {"username": "u", "password": "p"}, None),
])
def test_round_trip_each_scheme(mods: dict[str, ModuleType], served: tuple[str, Any],
                                operation: str, credentials: dict[str, str],
                                principal: Any) -> None:
    base, _ = served
    runtime = mods["runtime"]
    with mods["gate.client"].GateClient(**credentials, base_url=base) as client:
        assert getattr(client, operation)().seen["principal"] == principal
    if principal is None or operation == "via_optional_bearer":
        return
    # Without the credentials (or with only part of an AND): 401 from the stub.
    partial = {"header_key": KEY} if operation == "via_header_and_query_key" else {}
    with (mods["gate.client"].GateClient(**partial, base_url=base) as client,
          pytest.raises(runtime.ApiError) as caught):
        getattr(client, operation)()
    assert caught.value.status_code == 401


def test_stub_answers_401_even_when_the_implementation_lets_nobody_in(
        mods: dict[str, ModuleType], served: tuple[str, Any]) -> None:
    base, impls = served
    impls["gate"].accept_missing = True
    try:
        answer = httpx.get(base + "/gate/bearer")
    finally:
        impls["gate"].accept_missing = False
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json() == {"message": "credentials are required"}
