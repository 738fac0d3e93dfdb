"""Equivalent operations and fields across providers, from two vendor extensions.

* `x-numspec-equivalent: <concept>` on an operation (e.g. list, buy, get, update, delete);
* `x-numspec-concept: <concept>` on a schema property or a parameter (e.g. phone-number).

The docs page shows the result as its Equivalents tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from numspec.generator import specload
from numspec.generator.docs_split import Document, iter_operations

EQUIVALENT_KEY = "x-numspec-equivalent"
CONCEPT_KEY = "x-numspec-concept"
ROLE_ORDER = ("path", "query", "header", "cookie", "request", "response")


@dataclass(frozen=True)
class Operation:
    tag: str
    method: str
    path: str
    operation_id: str
    summary: str


@dataclass
class FieldUse:
    """Where one concept appears for one provider: a property or parameter name and its roles."""

    name: str
    xml_name: str | None
    roles: set[str] = field(default_factory=set)

    @property
    def ordered_roles(self) -> list[str]:
        return sorted(self.roles, key=lambda r: (ROLE_ORDER.index(r) if r in ROLE_ORDER else 99, r))


@dataclass
class Equivalents:
    """Concept -> provider tag -> operations / field uses, in the order the document gives."""

    operations: dict[str, dict[str, list[Operation]]] = field(default_factory=dict)
    fields: dict[str, dict[str, list[FieldUse]]] = field(default_factory=dict)


def _resolve(document: Document, node: Any) -> tuple[Any, str | None]:
    """Follow local $refs; keys written beside a $ref win over the target's. Returns the merged
    node and the pointer of the last target (None when `node` was no reference)."""
    target: str | None = None
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
        ref = node["$ref"]
        if ref in seen:
            break
        seen.add(ref)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        try:
            resolved = specload.resolve_pointer(document, ref[1:])
        except KeyError:
            break
        target = ref[1:]
        node = {**resolved, **siblings} if isinstance(resolved, dict) else resolved
    return node, target


def equivalents(document: Document) -> Equivalents:
    """Group operations by `x-numspec-equivalent` and fields by `x-numspec-concept`.

    Fields are found by walking each operation's parameters, request bodies and responses
    through their $refs. A property reached along several routes (say, inside a list page and
    as the body of a single fetch) is one field, named by its shortest route.
    """
    result = Equivalents()
    # (concept, tag, identity) -> [display name, xml name, roles]
    uses: dict[tuple[str, str, str], tuple[str, str | None, set[str]]] = {}

    def record(concept: Any, tags: list[str], identity: str, name: str,
               xml_name: str | None, role: str) -> None:
        if not isinstance(concept, str) or not concept:
            return
        result.fields.setdefault(concept, {})
        for tag in tags:
            key = (concept, tag, identity)
            old = uses.get(key)
            if old is None:
                uses[key] = (name, xml_name, {role})
                continue
            best = min((old[0], old[1]), (name, xml_name), key=lambda p: (p[0].count("."), p[0]))
            uses[key] = (best[0], best[1], old[2] | {role})

    def walk_schema(schema: Any, pointer: str, route: list[str], tags: list[str], role: str,
                    stack: frozenset[str]) -> None:
        node, target = _resolve(document, schema)
        if target is not None:
            if target in stack:
                return
            stack, pointer = stack | {target}, target
        if not isinstance(node, dict):
            return
        for name, prop in (node.get("properties") or {}).items():
            prop_ptr = specload.pointer_join(pointer, "properties", name)
            merged, _ = _resolve(document, prop)
            if isinstance(merged, dict):
                xml = merged.get("xml")
                xml_name = xml.get("name") if isinstance(xml, dict) else None
                record(merged.get(CONCEPT_KEY), tags, prop_ptr, ".".join(route + [name]),
                       xml_name if isinstance(xml_name, str) else None, role)
            walk_schema(prop, prop_ptr, route + [name], tags, role, stack)
        items = node.get("items")
        if isinstance(items, dict):
            inner = route[:-1] + [route[-1] + "[]"] if route else ["[]"]
            walk_schema(items, pointer + "/items", inner, tags, role, stack)
        for key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(node.get(key) or []):
                walk_schema(sub, f"{pointer}/{key}/{i}", route, tags, role, stack)

    def walk_content(content: Any, pointer: str, tags: list[str], role: str) -> None:
        if not isinstance(content, dict):
            return
        for media, entry in content.items():
            if isinstance(entry, dict) and "schema" in entry:
                ptr = specload.pointer_join(pointer, media, "schema")
                walk_schema(entry["schema"], ptr, [], tags, role, frozenset())

    for path, method, item, op in iter_operations(document):
        tags = [t for t in op.get("tags") or [] if isinstance(t, str)]
        base = specload.pointer_join("/paths", path)
        concept = op.get(EQUIVALENT_KEY)
        if isinstance(concept, str) and concept:
            for tag in tags:
                result.operations.setdefault(concept, {}).setdefault(tag, []).append(Operation(
                    tag, method.upper(), path, str(op.get("operationId") or ""),
                    str(op.get("summary") or "")))
        params: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        for where, plist in ((base, item.get("parameters")),
                             (specload.pointer_join(base, method), op.get("parameters"))):
            for i, raw in enumerate(plist or []):
                param, target = _resolve(document, raw)
                if isinstance(param, dict) and "name" in param:
                    ptr = target or specload.pointer_join(where, "parameters", i)
                    params[(str(param["name"]), str(param.get("in")))] = (param, ptr)
        for (name, where_in), (param, ptr) in params.items():
            record(param.get(CONCEPT_KEY), tags, ptr, name, None, where_in)
            if "schema" in param:
                walk_schema(param["schema"], ptr + "/schema", [name], tags, where_in, frozenset())
        op_ptr = specload.pointer_join(base, method)
        body, target = _resolve(document, op.get("requestBody"))
        if isinstance(body, dict):
            walk_content(body.get("content"), (target or op_ptr + "/requestBody") + "/content",
                         tags, "request")
        for status, raw in (op.get("responses") or {}).items():
            response, target = _resolve(document, raw)
            if isinstance(response, dict):
                ptr = target or specload.pointer_join(op_ptr, "responses", status)
                walk_content(response.get("content"), ptr + "/content", tags, "response")

    for (concept, tag, _), (name, xml_name, roles) in uses.items():
        cell = result.fields[concept].setdefault(tag, [])
        for use in cell:
            if use.name == name and use.xml_name == xml_name:
                use.roles |= roles
                break
        else:
            cell.append(FieldUse(name, xml_name, set(roles)))
    return result
