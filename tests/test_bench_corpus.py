"""The corpus benchmark's pieces, without the network: the document list, counting operations,
reading failures, and one whole run on a local stand-in for the npm package."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from bench import bench_corpus as bc

ROOT = Path(__file__).resolve().parents[1]
PETSTORE = ROOT / "tests" / "fixtures" / "thirdparty" / "petstore.yaml"


def test_document_list_has_what_issue_9_asks() -> None:
    entries = bc.read_list()
    paths = [e.path for e in entries]
    assert len(paths) >= 40 and len(set(paths)) == len(paths)
    assert sum(e.group.startswith("Communications") for e in entries) >= 15
    assert "api/github.com/api.github.com.json" in paths and "api/stripe.com.json" in paths
    assert all(e.group for e in entries)  # every line sits under a group comment


def test_read_list_groups_by_comment(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("# first\na.json\n\n# second group\nb.json\nc.json\n", encoding="utf-8")
    assert [(e.path, e.group) for e in bc.read_list(listing)] == [
        ("a.json", "first"), ("b.json", "second group"), ("c.json", "second group")]


def test_count_operations_counts_methods_only() -> None:
    document = {"paths": {
        "/a": {"get": {}, "post": {}, "parameters": [], "summary": "s", "x-extra": {}},
        "/b": {"$ref": "#/components/pathItems/B"},
        "/c": {"head": {}, "trace": {}, "options": {}},
    }}
    assert bc.count_operations(document) == 5
    assert bc.count_operations({"openapi": "3.1.0"}) == 0


def test_first_error_of_a_traceback_names_the_exception_and_our_frame() -> None:
    stderr = (
        "Traceback (most recent call last):\n"
        '  File "/x/.venv/bin/numspec", line 8, in <module>\n'
        '  File "/w/generator/codegen/ir.py", line 120, in schema\n'
        "    return names[key]\n"
        '  File "/usr/lib/python3.11/json/__init__.py", line 3, in loads\n'
        "KeyError: 'StartTime<'\n")
    assert bc.first_error("", stderr) == "KeyError: 'StartTime<' (at ir.py:120 in schema)"


def test_first_error_takes_the_first_error_line_and_shortens_the_path(tmp_path: Path) -> None:
    doc = tmp_path / "api" / "x.json"
    stderr = f"generating...\nerror: {doc} /paths: no 4xx\nerror: {doc} /b: other\n"
    assert bc.first_error("", stderr, doc) == "error: x.json /paths: no 4xx"
    assert bc.first_error("only line\n", "") == "only line"


def test_first_error_skips_warnings_and_reads_openapi_python_client() -> None:
    dcg = ("/v/openapi.py:1344: UserWarning: No schemas found in components/schemas.\n"
           "  self._parse_specification(specification, path_parts)\n"
           "Models not found in the input data\n")
    assert bc.first_error("", dcg) == "Models not found in the input data"
    boxed = ("\u256d\u2500 Traceback (most recent call last) \u2500\u256e\n"
             "\u2502 enum_property.py:214 in values_from_list \u2502\n"
             "\u2570\u2500\u2500\u256f\nValueError: Duplicate key T in enum\nX.Y; consider\n")
    assert bc.first_error("", boxed) == "ValueError: Duplicate key T in enum X.Y; consider"
    refused = ("Error(s) encountered while generating, client was not created\n"
               "Failed to parse OpenAPI document\n\n1 validation error for OpenAPI\n"
               "paths./v1/x.patch.requestBody\n\nIf you believe this was a mistake\n")
    assert bc.first_error(refused, "") == (
        "Error(s) encountered while generating, client was not created | Failed to parse "
        "OpenAPI document | 1 validation error for OpenAPI | paths./v1/x.patch.requestBody")


def test_cause_key_groups_one_kind_of_failure() -> None:
    a = bc.cause_key("error: a.json /paths/~1x/get/responses: GET /x documents no 4xx response")
    b = bc.cause_key("error: b.json /paths/~1y~1{id}/post/responses: POST /y/{id} documents no "
                     "4xx response")
    assert a == b and "4xx" in a
    assert bc.cause_key("error: a.json /c/x/example: example does not match its schema: 1 is "
                        "not of type 'string'") == "example does not match its schema"
    # The media type or JSON type says what is missing, so it stays.
    assert "'multipart/form-data'" in bc.cause_key(
        "error: a.json: POST /files: request bodies of ['multipart/form-data'] are not supported")
    assert bc.cause_key("UnsupportedSpec: Api20100401Account: DCG returned several modules") == \
        bc.cause_key("UnsupportedSpec: default: DCG returned several modules")
    assert bc.cause_key("KeyError: 'A' (at ir.py:10 in f)") == \
        bc.cause_key("KeyError: 'B' (at ir.py:99 in f)")


def test_client_operations_counts_request_methods_of_sync_clients(tmp_path: Path) -> None:
    (tmp_path / "pets").mkdir()
    (tmp_path / "pets" / "client.py").write_text(
        "class PetsClient:\n"
        "    def close(self): self._http.close()\n"
        "    def list_pets(self): return self._http.request('GET', '/pets')\n"
        "    def iter_pets(self): return self._http.get('/pets')\n"
        "    def create_pet(self, b): return self._http.request('POST', '/pets')\n"
        "    def _helper(self): return self._http.request('GET', '/')\n"
        "class AsyncPetsClient:\n"
        "    async def list_pets(self): return await self._http.request('GET', '/pets')\n",
        encoding="utf-8")
    assert bc.client_operations(tmp_path) == 2


def test_opc_operations_counts_endpoint_modules(tmp_path: Path) -> None:
    api = tmp_path / "api" / "default"
    api.mkdir(parents=True)
    (api / "__init__.py").write_text("", encoding="utf-8")
    for name in ("get_a", "post_b"):
        (api / f"{name}.py").write_text("def sync_detailed():\n    pass\n", encoding="utf-8")
    assert bc.opc_operations(tmp_path) == 2
    assert bc.opc_operations(tmp_path / "nothing") == 0


def test_a_timeout_ends_the_command() -> None:
    done = bc.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    assert done.returncode is None


def test_without_npm_the_bench_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert bc.main(["--cache", str(tmp_path / "cache"), "--tools", "dcg"]) == 0
    assert "npm is not installed" in capsys.readouterr().out


def test_a_whole_run_on_a_local_package(tmp_path: Path) -> None:
    """A stand-in package in the cache (so nothing is fetched) holding one sound document."""
    package = tmp_path / "cache" / bc.PACKAGE_VERSION / "package"
    (package / "api").mkdir(parents=True)
    (package / "package.json").write_text("{}", encoding="utf-8")
    document = yaml.safe_load(PETSTORE.read_text(encoding="utf-8"))
    (package / "api" / "petstore.json").write_text(json.dumps(document), encoding="utf-8")
    listing = tmp_path / "list.txt"
    listing.write_text("# fixture\napi/petstore.json\napi/missing.json\n", encoding="utf-8")
    saved = tmp_path / "results.json"
    status = bc.main(["--cache", str(tmp_path / "cache"), "--list", str(listing),
                      "--tools", "numspec,dcg", "--no-mypy", "--json", str(saved)])
    assert status == 0
    results = json.loads(saved.read_text(encoding="utf-8"))
    pet, missing = results["documents"]
    assert pet["operations"] == bc.count_operations(document) > 0
    numspec, dcg = pet["results"]["numspec"], pet["results"]["dcg"]
    assert numspec["generated"] and numspec["imports"], numspec
    assert numspec["operations"] == pet["operations"]
    assert dcg["generated"] and dcg["imports"] and dcg["operations"] is None
    assert missing["problem"].startswith("cannot read api/missing.json")
    assert results["totals"]["numspec"]["importable"] == 1
