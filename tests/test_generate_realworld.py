"""`numspec generate` on the shapes real documents use (tests/fixtures/thirdparty/realworld*.yaml).

The output must pass ruff and mypy --strict, import, skip only the one operation it cannot
express (with one line naming it), and its client must talk to its own stubs over loopback.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
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


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=False, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("realworld") / "realworld_gen"
    result = run(BIN / "numspec", "generate", "--spec", FIXTURES / "realworld.yaml", "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stderr


@pytest.fixture(scope="module")
def generated31(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("realworld31") / "realworld31_gen"
    result = run(BIN / "numspec", "generate", "--spec", FIXTURES / "realworld31.yaml", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def load(out: Path, *modules: str) -> dict[str, ModuleType]:
    sys.path.insert(0, str(out.parent))
    try:
        return {name: importlib.import_module(f"{out.name}.{name}") for name in modules}
    finally:
        sys.path.remove(str(out.parent))


def test_skips_only_what_it_cannot_express(generated: tuple[Path, str]) -> None:
    _, stderr = generated
    assert "Traceback" not in stderr
    skipped = [line for line in stderr.splitlines() if line.startswith("skipped ")]
    assert skipped == ["skipped GET /broken (broken): dangling $ref '#/components/schemas/Missing'"]
    assert "15 of 16 operations generated, 1 skipped" in stderr


@pytest.mark.parametrize("which", ["generated", "generated31"])
def test_output_passes_ruff_and_mypy_strict(which: str, request: pytest.FixtureRequest) -> None:
    value = request.getfixturevalue(which)
    out: Path = value[0] if isinstance(value, tuple) else value
    ruff = run(BIN / "ruff", "check", "--no-cache", "--config", ROOT / "pyproject.toml", out)
    assert ruff.returncode == 0, ruff.stdout
    mypy = run(BIN / "mypy", "--strict", "--no-incremental", out.name, cwd=out.parent)
    assert mypy.returncode == 0, mypy.stdout


def test_names_real_documents_use(generated: tuple[Path, str]) -> None:
    out, _ = generated
    # A dotted tag is a package; dotted, dashed, lowercase and digit-led schema names are
    # classes, and two names that meet as one class name are told apart.
    mods = load(out, "api_v2010.models", "default.models", "default.client")
    account, default = mods["api_v2010.models"], mods["default.models"]
    shared = load(out, "models")["models"]
    assert account.ApiV2010Account2.model_fields.keys() == {"sid", "status", "limits", "twin",
                                                            "thing"}
    assert "other" in account.ApiV2010Account.model_fields
    assert {"ThingItem", "N2faSettings", "Pets", "Cat", "Dog"} <= set(vars(default))
    client = mods["default.client"].DefaultClient
    # No operationId: named from method and path; HEAD and OPTIONS are generated too.
    for name in ("get_things", "post_things", "head_things", "options_things", "redirect_somewhere"):
        assert callable(getattr(client, name))
    # The two providers share thing-item: the models are generated once, at the top, and each
    # provider's models module names the classes it uses.
    assert account.ThingItem is default.ThingItem
    assert "ThingItem = shared.ThingItem" in (out / "default" / "models.py").read_text()
    assert account.Pets is default.Pets
    # format: email is a str: EmailStr would need the email-validator package at run time.
    assert "EmailStr" not in (out / "models.py").read_text()
    # Repeated enum values are written once; infinite bounds and a 27-digit maximum survive.
    assert "Literal['active', 'Active', '', '1st', 'with space']" in (out / "models.py").read_text()
    assert account.Lowercase(big=10**26, ratio=-1e308).big == 10**26
    # A default that does not fit: "100" for an integer is taken as 100; 6 for a string enum
    # and a str for an AnyUrl field are dropped (the code would not type-check).
    # allOf narrowing a property: mypy is told the override is meant; pydantic checks it.
    assert shared.KeywordPage.model_validate({"items": [{"word": "w"}]}).items[0].word == "w"
    defaults = shared.Lowercase()
    assert (defaults.count, defaults.period, defaults.home) == (100, None, None)
    with pytest.raises(ValueError):
        account.Lowercase(big=10**27)


class Things:
    """In-memory implementation of the generated `DefaultImplementation`."""

    def __init__(self, m: ModuleType, runtime: ModuleType) -> None:
        self.m, self.runtime = m, runtime
        self.things: list[Any] = []
        self.calls: list[str] = []
        self.labels: list[str] = []

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> Any:
        return self.runtime.ApiError(status, None)

    async def get_things(self, call: Any) -> Any:
        return self.m.GetThingsResponse200(self.things)

    async def post_things(self, call: Any) -> Any:
        thing = self.m.ThingItem(id=len(self.things) + 1, nick=None,
                                 attributes={"name": call.body.name})
        self.things.append(thing)
        return thing

    async def head_things(self, call: Any) -> None:
        self.calls.append("HEAD")

    async def options_things(self, call: Any) -> None:
        self.calls.append("OPTIONS")

    async def get_thing_owner(self, call: Any) -> Any:
        p = call.params
        return self.m.GetThingOwnerResponse200(self.m.Owner(name=f"owner of {p.id} (json: {p.json_})"))

    async def get_label(self, call: Any) -> None:
        self.labels.append(call.params.label)

    async def redirect_somewhere(self, call: Any) -> None:
        self.calls.append("redirect")

    async def ping(self, call: Any) -> None:
        self.calls.append("ping")

    async def get_blob(self, call: Any) -> None:
        self.calls.append("blob")

    async def get_anything(self, call: Any) -> None:
        self.calls.append("anything")

    async def delete_nothing(self, call: Any) -> None:
        self.calls.append("delete")

    async def list_pets(self, call: Any) -> Any:
        return self.m.Pets([self.m.Cat(kind="cat", name="Tom", lives=9),
                            self.m.Dog(kind="dog", name="Rex", good=True)])

    async def put2fa(self, call: Any) -> Any:
        return call.body


class Accounts:
    def __init__(self, m: ModuleType, runtime: ModuleType) -> None:
        self.m, self.runtime = m, runtime
        self.seen: list[Any] = []

    def reject(self, status: int, problem: str, operation: str, field: str | None) -> Any:
        return self.runtime.ApiError(status, None)

    async def fetch_account(self, call: Any) -> Any:
        p = call.params
        self.seen.append((p.start_time, p.start_time_before, p.start_time_after))
        return self.m.ApiV2010Account2(sid=p.sid, status="with space",
                                       twin=self.m.ApiV2010Account(other=True))


def test_round_trip_over_loopback(generated: tuple[Path, str]) -> None:
    out, _ = generated
    mods = load(out, "runtime", "default.models", "default.client", "default.server",
                "api_v2010.models", "api_v2010.client", "api_v2010.server")
    things = Things(mods["default.models"], mods["runtime"])
    accounts = Accounts(mods["api_v2010.models"], mods["runtime"])
    app = FastAPI()
    app.include_router(mods["default.server"].create_router(things), prefix="/v1")
    app.include_router(mods["api_v2010.server"].create_router(accounts), prefix="/v1")
    m = mods["default.models"]
    with serve(app) as url, mods["default.client"].DefaultClient(base_url=url + "/v1") as client:
        made = client.post_things(m.PostThingsBody(name="lamp", labels=[m.Label(key="k")]))
        assert made.id == 1 and made.attributes == {"name": "lamp"}
        assert client.get_things().root == [made]
        assert client.head_things() is None and client.options_things() is None
        assert client.get_thing_owner(7, json_=True).root.name == "owner of 7 (json: True)"
        assert client.get_label("red") is None and things.labels == ["red"]
        assert client.redirect_somewhere() is None  # a 302 is this operation's answer
        assert client.ping() is None and client.get_blob() is None
        assert client.get_anything() is None and client.delete_nothing() is None
        pets = client.list_pets().root
        assert [type(p).__name__ for p in pets] == ["Cat", "Dog"] and pets[0].lives == 9
        assert client.put2fa(m.N2faSettings(enabled=True)).enabled is True
        assert things.calls == ["HEAD", "OPTIONS", "redirect", "ping", "blob", "anything",
                                "delete"]
        raw = httpx.get(url + "/v1/pets")
        assert raw.headers["content-type"].startswith("application/vnd.example+json")
        with mods["api_v2010.client"].ApiV2010Client(base_url=url + "/v1") as api:
            got = api.fetch_account("AC1", start_time="a", start_time_before="b",
                                    start_time_after="c")
            assert got.status == "with space" and got.twin.other is True
    assert accounts.seen == [("a", "b", "c")]


def test_31_nullable_spellings(generated31: Path) -> None:
    mods = load(generated31, "default.models")
    item = mods["default.models"].Item
    value = item.model_validate({"note": None, "parent": None, "kind": "item", "payload": [1]})
    assert value.note is None and value.parent is None and value.payload == [1]
    nested = item.model_validate({"parent": {"note": "inner"}})
    assert nested.parent is not None and nested.parent.note == "inner"
