"""numspec's contract suite inside your own pytest run.

`numspec contract` runs Schemathesis' CLI; this module gives the same thing as a Schemathesis
schema object for pytest: one provider's operations, the base URL and Basic auth set, the
account path parameter bound to the user, read-only if asked, and numspec's checks and hooks
(XML validated through the contract's `xml` annotations, provider semantics, real ids and
buyable numbers) active for every case.

    # test_my_server.py
    from numspec.generator.contract_pytest import contract_schema

    schema = contract_schema(
        "freeclimb",                                  # or "restcomm"
        "http://127.0.0.1:8000/apiserver",            # the provider's base URL
        ("AC68ad4e6e004a7d27d946c8bb78074732c2cf8a49", "ff241b8c682f1b98ee1645c64a57a96847332dc3"),
        max_examples=20,                              # per operation; optional
        read_only=False,                              # True: GET only (production endpoints)
    )

    @schema.parametrize()
    def test_api(case):
        case.call_and_validate()

`pytest test_my_server.py` then runs one test per operation and fails with Schemathesis'
report (a curl command to reproduce included). `account=` names the account in the path when
the user name is not one (Restcomm e-mail logins); `spec=` points at another contract root.
Stateful testing through the contract's links is `schema.as_state_machine().TestCase`, as in
Schemathesis' own documentation.

The credentials are checked before any case runs, as `numspec contract` checks them: the
server must accept them and serve the provider's operations at `url`. When the server answers
when `contract_schema` is called (the usual case), a refusal fails the module at collection;
when it is not up yet (a fixture starts it), the check runs before the first case's request
and a refusal fails that case and every later one before its request is sent.

The settings live in generator.contract_checks for the whole process: one provider and one
server per pytest run.
"""

from __future__ import annotations

import tomllib
from typing import Any

import schemathesis
from numspec.generator import contract_checks
from numspec.generator.contract import (
    ContractError,
    config_toml,
    parse_auth,
    preflight,
    provider_document,
)
from numspec.generator.specload import DEFAULT_SPEC, load
from schemathesis.config import SchemathesisConfig


def contract_schema(
    provider: str,
    url: str,
    auth: tuple[str, str] | str,
    *,
    account: str | None = None,
    read_only: bool = False,
    max_examples: int | None = None,
    spec: str = str(DEFAULT_SPEC),
) -> Any:
    """A Schemathesis schema for `provider`'s operations at `url`, checked the numspec way.

    `auth` is (user, password) or "USER:PASS". Returns a schemathesis OpenApiSchema.
    """
    user, password = parse_auth(auth) if isinstance(auth, str) else auth
    document = provider_document(load(spec), provider)
    data: dict[str, Any] = tomllib.loads(config_toml(provider, account or user, read_only))
    data["base-url"] = url.rstrip("/")
    data["request-timeout"] = 10
    data["auth"] = {"basic": {"username": user, "password": password}}
    if max_examples is not None:
        data["generation"]["max-examples"] = max_examples
    contract_checks.configure(provider, url, (user, password), read_only)
    login = (url, (user, password), provider, account or user, document)
    try:
        preflight(*login)
    except ContractError as exc:
        if not str(exc).startswith("cannot reach"):
            _refuse(exc)
        contract_checks.PREFLIGHT[:] = [_deferred_preflight(login)]  # not up yet
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(data))
    return schema.include(method="GET") if read_only else schema


def _refuse(exc: ContractError) -> None:
    import pytest

    pytest.fail(f"numspec contract_schema: {exc}", pytrace=False)


def _deferred_preflight(login: tuple[Any, ...]) -> Any:
    """The check for the first case's before_call hook: gone once it passes; once it failed,
    it fails every case the same way (Schemathesis turns a pytest.exit in a hook into an
    error of that one case, and the rest would run)."""
    refusal: list[str] = []

    def check() -> None:
        if not refusal:
            try:
                preflight(*login)
            except ContractError as exc:
                refusal.append(f"numspec contract_schema: {exc}")
            else:
                contract_checks.PREFLIGHT.clear()
                return
        raise AssertionError(refusal[0])

    return check
