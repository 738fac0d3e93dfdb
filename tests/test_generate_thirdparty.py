"""`numspec generate` on OpenAPI documents that are not ours.

Two third-party-shaped fixtures (tests/fixtures/thirdparty/): a 3.0 "pet store" (nullable,
allOf, inline schemas, top-level arrays, header parameters, kebab-case and snake_case names,
two tags) and a Twilio-style 3.1 messaging API (form bodies, `.json` twins, XML from `xml`
annotations, Page/PageSize paging, the account as an ordinary path parameter). Each must lint
clean, generate into an arbitrary folder, pass ruff and mypy --strict, import, and round-trip
calls over loopback HTTP between its own generated client and server stubs.
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

import httpx
import pytest
from fastapi import FastAPI

from tests.loopback_server import serve

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "thirdparty"
BIN = Path(sys.executable).parent
USER, PASSWORD = "user", "pass"


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=False, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def generate(fixture: str, tmp: Path, package: str) -> Path:
    out = tmp / package
    result = run(BIN / "numspec", "generate", "--spec", FIXTURES / fixture, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def load(out: Path, *modules: str) -> dict[str, ModuleType]:
    sys.path.insert(0, str(out.parent))
    try:
        return {name: importlib.import_module(f"{out.name}.{name}") for name in modules}
    finally:
        sys.path.remove(str(out.parent))


@pytest.fixture(scope="module")
def petstore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate("petstore.yaml", tmp_path_factory.mktemp("petstore"), "petstore_gen")


@pytest.fixture(scope="module")
def messaging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate("messaging.yaml", tmp_path_factory.mktemp("messaging"), "messaging_gen")


@pytest.mark.parametrize("fixture", ["petstore.yaml", "messaging.yaml"])
def test_fixture_is_sound(fixture: str) -> None:
    result = run(BIN / "numspec", "lint", "--quiet", FIXTURES / fixture)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("which", ["petstore", "messaging"])
def test_output_passes_ruff_and_mypy_strict(which: str, request: pytest.FixtureRequest) -> None:
    out: Path = request.getfixturevalue(which)
    ruff = run(BIN / "ruff", "check", "--no-cache", "--config", ROOT / "pyproject.toml", out)
    assert ruff.returncode == 0, ruff.stdout
    mypy = run(BIN / "mypy", "--strict", "--no-incremental", out.name, cwd=out.parent)
    assert mypy.returncode == 0, mypy.stdout


def test_petstore_layout(petstore: Path) -> None:
    """One package per tag (kebab-case tag -> snake_case package), 3.0 read as 3.1."""
    assert sorted(p.name for p in petstore.iterdir() if p.is_dir()) == ["pets", "store_orders"]
    assert '"openapi": "3.1.0"' in (petstore / "openapi.json").read_text()
    # Both tags use Error, so the models are generated once, at the top, and each package's
    # models module names them. Inline schemas are hoisted under names from the operationId.
    models = (petstore / "models.py").read_text()
    for name in ("class UpdatePetBody(", "class ListPetsResponse200(", "class Pet(NewPet)",
                 "class PlaceOrderBody(", "class GetOrderResponse200("):
        assert name in models
    for package in ("pets", "store_orders"):
        assert "Error = shared.Error" in (petstore / package / "models.py").read_text()


# --------------------------------------------------------------------------- pet store


class Pets:
    """In-memory implementation of the generated `PetsImplementation`."""

    def __init__(self, m: ModuleType) -> None:
        self.m = m
        self.pets: dict[int, Any] = {}
        self.request_ids: list[str | None] = []

    async def authenticate(self, credentials: tuple[str, str] | None, account: str | None) -> Any:
        if credentials != (USER, PASSWORD):
            raise self.error(401, "who are you?")
        return USER

    def error(self, status: int, message: str) -> Any:
        from_runtime: Any = sys.modules[self.m.__name__.split(".")[0] + ".runtime"]
        return from_runtime.ApiError(status, self.m.Error(code=status, message=message))

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> Any:
        return self.error(status, problem)

    async def list_pets(self, call: Any) -> Any:
        self.request_ids.append(call.params.x_request_id)
        pets = [p for p in self.pets.values()
                if call.params.status is None or p.status == call.params.status]
        return self.m.ListPetsResponse200(pets[:call.params.limit])

    async def create_pet(self, call: Any) -> Any:
        pet = self.m.Pet(id=len(self.pets) + 1, **call.body.model_dump(exclude_unset=True))
        self.pets[pet.id] = pet
        return pet

    def _pet(self, call: Any) -> Any:
        if call.params.pet_id not in self.pets:
            raise self.error(404, "no such pet")
        return self.pets[call.params.pet_id]

    async def get_pet_by_id(self, call: Any) -> Any:
        return self._pet(call)

    async def update_pet(self, call: Any) -> Any:
        pet = self._pet(call)
        changes = call.body.model_dump(exclude_unset=True) if call.body else {}
        self.pets[pet.id] = pet.model_copy(update=changes)
        return self.pets[pet.id]

    async def delete_pet(self, call: Any) -> None:
        del self.pets[self._pet(call).id]


class Orders:
    def __init__(self, m: ModuleType) -> None:
        self.m = m
        self.orders: dict[str, Any] = {}
        self.formats: list[str] = []

    async def authenticate(self, credentials: tuple[str, str] | None, account: str | None) -> Any:
        return None

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> Any:
        runtime: Any = sys.modules[self.m.__name__.split(".")[0] + ".runtime"]
        return runtime.ApiError(status, self.m.Error(code=status, message=problem))

    async def place_order(self, call: Any) -> Any:
        order = self.m.Order(id=f"ord_{len(self.orders) + 1}", complete=False,
                             **call.body.model_dump())
        self.orders[order.id] = order
        return order

    async def get_order(self, call: Any) -> Any:
        self.formats.append(call.params.format_query)
        return self.m.GetOrderResponse200(order=self.orders[call.params.order_id],
                                          delivery_state="pending")


def test_petstore_round_trip(petstore: Path) -> None:
    mods = load(petstore, "runtime", "pets.models", "pets.client", "pets.server",
                "store_orders.models", "store_orders.client", "store_orders.server")
    runtime = mods["runtime"]
    pets, orders = Pets(mods["pets.models"]), Orders(mods["store_orders.models"])
    app = FastAPI()
    app.include_router(mods["pets.server"].create_router(pets), prefix="/v2")
    app.include_router(mods["store_orders.server"].create_router(orders), prefix="/v2")
    pm, om = mods["pets.models"], mods["store_orders.models"]
    assert mods["pets.client"].DEFAULT_BASE_URL == "https://petstore.example.com/v2"

    with serve(app) as url, mods["pets.client"].PetsClient(
            USER, PASSWORD, base_url=url + "/v2") as client:
        rex = client.create_pet(pm.NewPet(name="Rex", tag=None, status="available"))
        assert rex.id == 1 and rex.tag is None and rex.status == "available"
        client.create_pet(pm.NewPet(name="Tom", tag="cat", status="sold"))
        listed = client.list_pets(status="available", type="dog", x_request_id="req-1")
        assert [p.name for p in listed.root] == ["Rex"]
        assert pets.request_ids == ["req-1"]  # the header parameter reached the server
        assert client.get_pet_by_id(1) == rex
        # 3.0 nullable: an explicit null is sent and kept apart from "not sent".
        tagged = client.update_pet(1, pm.UpdatePetBody(tag="good boy"))
        assert tagged.tag == "good boy" and tagged.name == "Rex"
        assert client.update_pet(1, pm.UpdatePetBody(tag=None)).tag is None
        client.delete_pet(2)
        with pytest.raises(runtime.ApiError) as caught:
            client.get_pet_by_id(2)
        assert caught.value.status_code == 404
        assert isinstance(caught.value.body, pm.Error) and caught.value.body.message == "no such pet"
        # Path parameter typed integer, minimum 1: checked by the stub before `impl` runs.
        with pytest.raises(runtime.ApiError) as caught:
            client.get_pet_by_id(0)
        assert caught.value.status_code == 400
        # additionalProperties: false on the inline PATCH body.
        answer = httpx.patch(url + "/v2/pets/1", json={"nickname": "x"}, auth=(USER, PASSWORD))
        assert answer.status_code == 400 and answer.json()["code"] == 400
        with pytest.raises(runtime.ApiError) as caught:
            mods["pets.client"].PetsClient(USER, "wrong", base_url=url + "/v2").list_pets()
        assert caught.value.status_code == 401

        async def kebab_case_operations() -> None:
            async with mods["store_orders.client"].AsyncStoreOrdersClient(
                    USER, PASSWORD, base_url=url + "/v2") as store:
                placed = await store.place_order(om.PlaceOrderBody(pet_id=1))
                assert placed.quantity == 1 and placed.ship_date is None
                got = await store.get_order(placed.id, format_query="short")
                assert got.order == placed and got.delivery_state == "pending"

        asyncio.run(kebab_case_operations())
    assert orders.formats == ["short"]


# --------------------------------------------------------------------------- messaging

ACCOUNT = "AC" + "0f" * 16


class Messages:
    """In-memory implementation of the generated `Api20100401MessageImplementation`."""

    def __init__(self, m: ModuleType, runtime: ModuleType) -> None:
        self.m, self.runtime = m, runtime
        self.messages: dict[str, Any] = {}

    async def authenticate(self, credentials: tuple[str, str] | None, account: str | None) -> Any:
        # Without numspec's x-numspec-account marker the stub cannot know which path
        # parameter names the account (`account` is None); the operations compare it.
        assert account is None
        if credentials != (ACCOUNT, "token"):
            raise self.error(401, "authenticate")
        return credentials[0]

    def error(self, status: int, message: str) -> Any:
        return self.runtime.ApiError(status, self.m.ApiError(code=20000 + status, message=message,
                                                             status=status))

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> Any:
        return self.error(status, problem)

    async def list_message(self, call: Any) -> Any:
        p = call.params
        if p.account_sid != call.principal:
            raise self.error(401, "not your account")
        items = [m for m in self.messages.values() if p.to is None or m.to == p.to]
        chunk = items[p.page * p.page_size:(p.page + 1) * p.page_size]
        more = (p.page + 1) * p.page_size < len(items)
        uri = f"/2010-04-01/Accounts/{p.account_sid}/Messages.json"
        return self.m.MessagePage(
            messages=chunk, page=p.page, page_size=p.page_size, uri=uri,
            next_page_uri=f"{uri}?Page={p.page + 1}&PageSize={p.page_size}" if more else None)

    async def create_message(self, call: Any) -> Any:
        form = call.body
        sid = f"SM{len(self.messages):032x}"
        message = self.m.Message(
            sid=sid, account_sid=call.params.account_sid, to=form.to, body=form.body or "",
            status="queued", num_segments=1, price=form.max_price, date_created="x",
            direction="outbound-api" if form.smart_encoded else None,
            **{"from": form.from_})
        self.messages[sid] = message
        return message

    def _message(self, call: Any) -> Any:
        if call.params.sid not in self.messages:
            raise self.error(404, "not found")
        return self.messages[call.params.sid]

    async def fetch_message(self, call: Any) -> Any:
        return self._message(call)

    async def update_message(self, call: Any) -> Any:
        message = self._message(call)
        body = call.body
        changes: dict[str, Any] = {}
        if body is not None and body.body is not None:
            changes["body"] = body.body
        if body is not None and body.status is not None:
            changes["status"] = "failed"
        self.messages[message.sid] = message.model_copy(update=changes)
        return self.messages[message.sid]

    async def delete_message(self, call: Any) -> None:
        del self.messages[self._message(call).sid]


@pytest.fixture(scope="module")
def messaging_server(messaging: Path) -> Iterator[tuple[str, dict[str, ModuleType], Messages]]:
    mods = load(messaging, "runtime", "api20100401_message.models",
                "api20100401_message.client", "api20100401_message.server")
    impl = Messages(mods["api20100401_message.models"], mods["runtime"])
    app = FastAPI()
    app.include_router(mods["api20100401_message.server"].create_router(impl),
                       prefix="/2010-04-01")
    with serve(app) as url:
        yield url + "/2010-04-01", mods, impl


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_messaging_round_trip(messaging_server: tuple[str, dict[str, ModuleType], Messages],
                              fmt: str) -> None:
    base, mods, impl = messaging_server
    impl.messages.clear()
    m, runtime = mods["api20100401_message.models"], mods["runtime"]
    client_module = mods["api20100401_message.client"]
    with client_module.Api20100401MessageClient(ACCOUNT, "token", base_url=base) as client:
        sent = client.create_message(
            ACCOUNT, m.CreateMessageRequest(To="+15550001", From="+15550002", Body="hi",
                                            MaxPrice=0.25, SmartEncoded=True), format=fmt)
        assert sent.to == "+15550001" and sent.from_ == "+15550002" and sent.price == 0.25
        assert sent.direction == "outbound-api" and sent.status == "queued"
        assert client.fetch_message(ACCOUNT, sent.sid, format=fmt) == sent
        redacted = client.update_message(ACCOUNT, sent.sid, m.UpdateMessageRequest(Body=""),
                                         format=fmt)
        assert redacted.body == ""
        for i in range(4):
            client.create_message(ACCOUNT, m.CreateMessageRequest(To=f"+1555000{i}"), format=fmt)
        page = client.list_message(ACCOUNT, page_size=2, format=fmt)
        assert len(page.messages) == 2 and page.next_page_uri is not None
        every = list(client.iter_message(ACCOUNT, page_size=2))
        assert len(every) == 5 and every[0].sid == sent.sid
        assert [x.to for x in client.iter_message(ACCOUNT, to="+15550001")] == ["+15550001",
                                                                               "+15550001"]
        client.delete_message(ACCOUNT, sent.sid)
        with pytest.raises(runtime.ApiError) as caught:
            client.fetch_message(ACCOUNT, sent.sid, format=fmt)
    assert caught.value.status_code == 404
    assert caught.value.body == m.ApiError(code=20404, message="not found", status=404)


def test_messaging_wire_format(messaging_server: tuple[str, dict[str, ModuleType], Messages]
                               ) -> None:
    base, _, impl = messaging_server
    impl.messages.clear()
    auth = (ACCOUNT, "token")
    messages = f"{base}/Accounts/{ACCOUNT}/Messages"
    made = httpx.post(messages, data={"To": "+15550009", "Body": "x"}, auth=auth)
    assert made.status_code == 201
    assert made.headers["content-type"].startswith("application/xml")
    assert made.text.startswith("<TwilioResponse><Message><Sid>SM")
    listed = httpx.get(messages, auth=auth)
    assert listed.text.startswith('<TwilioResponse><Messages page="0" pageSize="50"')
    assert httpx.get(f"{messages}.json", auth=auth).json()["messages"][0]["to"] == "+15550009"
    # The stubs check the form against the schema (MaxPrice: exclusiveMinimum 0).
    refused = httpx.post(f"{messages}.json", data={"To": "+1", "MaxPrice": "0"}, auth=auth)
    assert refused.status_code == 400 and refused.json()["status"] == 400
    # Another account in the path than the credentials' own: the implementation says 401.
    other = httpx.get(f"{base}/Accounts/AC{'1' * 32}/Messages.json", auth=auth)
    assert other.status_code == 401
