"""numspec.generator.contract_pytest: the contract suite as plain pytest tests, against real servers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from numspec.emulator.accounts import FREECLIMB_DEMO
from numspec.generator.contract_pytest import contract_schema

from tests.emulator_process import _environment, free_port
from tests.test_contract import mutant_server

FC_AUTH = (FREECLIMB_DEMO.username, FREECLIMB_DEMO.password)
# The schema is built at import, as a user's module would build it, so the server's address
# must be known then: a port picked now, and the emulator started on it by the fixture below.
# (schemathesis.pytest.from_fixture would defer it, but fails under pytest 9: it reads the
# removed `Function._nodeid`.)
PORT = free_port()
schema = contract_schema("freeclimb", f"http://127.0.0.1:{PORT}/apiserver", FC_AUTH,
                         max_examples=5)


@pytest.fixture(scope="module", autouse=True)
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("contract-pytest")
    with mutant_server("none", folder, port=PORT) as base:
        yield base


@schema.parametrize()  # type: ignore[untyped-decorator]
def test_emulator_honours_the_contract(case: Any) -> None:
    response = case.call_and_validate()
    assert "Authorization" in response.request.headers  # the login reached every request


USER_MODULE = """
from numspec.generator.contract_pytest import contract_schema

schema = contract_schema("freeclimb", {url!r}, {auth!r}, max_examples=5)


@schema.parametrize()  # type: ignore[untyped-decorator]
def test_api(case):
    case.call_and_validate()
"""


def test_the_documented_usage_fails_a_broken_server(tmp_path: Path) -> None:
    """The module docstring's snippet, run by pytest on its own, against a mutant."""
    with mutant_server("fc-pages-lie", tmp_path) as base:
        (tmp_path / "test_user_api.py").write_text(
            USER_MODULE.format(url=base + "/apiserver", auth=FC_AUTH), encoding="utf-8")
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user_api.py"],
            cwd=tmp_path, env=_environment(), capture_output=True, text=True, timeout=300,
            check=False)
    assert run.returncode == 1, run.stdout[-4000:] + run.stderr[-2000:]
    assert "page_fields_agree" in run.stdout and "passed" in run.stdout, run.stdout[-4000:]
