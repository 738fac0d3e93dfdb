"""Every field and parameter the seed documents name is in the contract.

The names are in tests/data/seed_fields.py. Each provider's names are looked for only in its own
part of the bundled contract: the operations whose first tag is the provider, and everything
they reach through `$ref`. How a seed name shows up there:

- FreeClimb: JSON keys are camelCase, so a name appears verbatim as a schema property.
- Restcomm resource properties are PascalCase in the seed; on the wire they are snake_case JSON
  keys and PascalCase XML elements. `FriendlyName` must appear as the property
  `friendly_name` AND as an `xml.name` of `FriendlyName`.
- Restcomm capabilities: the (JSON key, XML element) pair given in the data, for each.
- Restcomm list filters: query parameters with exactly that name.
- Restcomm create/update parameters: form fields, which a contract writes as properties of the
  form body schema, with exactly that (case-sensitive) name.
- Restcomm JSON keys (reference §3.1): verbatim as schema properties.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from numspec.generator import specload

from tests.data import seed_fields as seeds

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def snake_case(name: str) -> str:
    """VoiceCallerIdLookup -> voice_caller_id_lookup (the seeds' names have no acronyms)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@dataclass
class Names:
    properties: set[str] = field(default_factory=set)
    query_parameters: set[str] = field(default_factory=set)
    parameters: set[str] = field(default_factory=set)
    xml: set[str] = field(default_factory=set)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def provider_names(doc: dict[str, Any], provider: str) -> Names:
    """Names used by the provider's operations and everything they reach through $ref."""
    todo: list[Any] = []
    for item in doc.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict) and (operation.get("tags") or [None])[0] == provider:
                todo += [operation, item.get("parameters", [])]
    seen: set[str] = set()
    names = Names()
    while todo:
        for node in walk(todo.pop()):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
                seen.add(ref)
                todo.append(specload.resolve_pointer(doc, ref[1:]))
            if isinstance(node.get("properties"), dict):
                names.properties.update(node["properties"])
            if isinstance(node.get("name"), str) and node.get("in") in (
                    "query", "path", "header", "cookie"):
                names.parameters.add(node["name"])
                if node["in"] == "query":
                    names.query_parameters.add(node["name"])
            if isinstance(node.get("xml"), dict) and isinstance(node["xml"].get("name"), str):
                names.xml.add(node["xml"]["name"])
    return names


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return specload.load().document


def test_freeclimb_seed_fields_are_in_the_contract(document: dict[str, Any]) -> None:
    names = provider_names(document, "freeclimb")
    wanted = seeds.FREECLIMB_PROPERTIES + seeds.FREECLIMB_CAPABILITIES + seeds.FREECLIMB_REFERENCE
    missing = [f"property {name}" for name in wanted if name not in names.properties]
    assert not missing, "FreeClimb names missing from the contract: " + ", ".join(missing)


def test_restcomm_seed_fields_are_in_the_contract(document: dict[str, Any]) -> None:
    names = provider_names(document, "restcomm")
    missing: list[str] = []
    for name in seeds.RESTCOMM_PROPERTIES:
        if snake_case(name) not in names.properties:
            missing.append(f"property {snake_case(name)} (for {name})")
        if name not in names.xml:
            missing.append(f"xml name {name}")
    for seed_name, (json_key, xml_name) in seeds.RESTCOMM_CAPABILITIES.items():
        if json_key not in names.properties:
            missing.append(f"property {json_key} (for capability {seed_name})")
        if xml_name not in names.xml:
            missing.append(f"xml name {xml_name} (for capability {seed_name})")
    for name in seeds.RESTCOMM_LIST_FILTERS:
        if name not in names.query_parameters:
            missing.append(f"query parameter {name}")
    for name in dict.fromkeys(seeds.RESTCOMM_CREATE_PARAMETERS + seeds.RESTCOMM_UPDATE_PARAMETERS):
        if name not in names.properties:
            missing.append(f"form field {name}")
    for name in seeds.RESTCOMM_JSON_KEYS:
        if name not in names.properties:
            missing.append(f"property {name}")
    assert not missing, "Restcomm names missing from the contract: " + ", ".join(missing)


def test_the_search_can_fail(document: dict[str, Any]) -> None:
    # Guards the search itself: names of one provider are not found in the other's part.
    assert "phoneNumberId" not in provider_names(document, "restcomm").properties
    assert "friendly_name" not in provider_names(document, "freeclimb").properties
    assert "FriendlyName" not in provider_names(document, "freeclimb").xml
