"""Read OpenAPI 3.0 documents as 3.1, so every tool after the loader speaks one dialect.

Most public specs are still 3.0. The differences that matter to numspec's tools are in the
Schema Object: 3.0 marks null with `nullable: true` where 3.1 (plain JSON Schema 2020-12) puts
"null" in `type`, and 3.0's `exclusiveMinimum`/`exclusiveMaximum` are booleans that modify
`minimum`/`maximum` where 3.1's are the bounds themselves. `upgrade()` rewrites those, and the
version string, in place; everything else in a 3.0 document is already valid 3.1.
"""

from __future__ import annotations

from typing import Any

TARGET = "3.1.0"
# Keys whose values are example data, never schemas: leave them alone even if they look like one.
DATA_KEYS = frozenset({"example", "examples", "default", "enum", "const", "value"})
# Keys whose values map user-chosen names to objects: a name may be "default" or "example".
NAME_MAPS = frozenset({
    "properties", "patternProperties", "paths", "schemas", "responses", "parameters",
    "requestBodies", "headers", "content", "callbacks", "links", "securitySchemes",
    "encoding", "pathItems", "$defs", "definitions", "variables", "mapping",
})


def is_30(document: dict[str, Any]) -> bool:
    return str(document.get("openapi", "")).startswith("3.0")


def upgrade(document: dict[str, Any]) -> bool:
    """Rewrite a 3.0 document as 3.1 in place; False (and untouched) for any other version."""
    if not is_30(document):
        return False
    _walk(document, names=False)
    document["openapi"] = TARGET
    return True


def _walk(node: Any, names: bool) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, names=False)
        return
    if not isinstance(node, dict):
        return
    if not names:
        _schema(node)
    for key, value in node.items():
        if not names and (key in DATA_KEYS or key.startswith("x-")):
            continue
        _walk(value, names=not names and key in NAME_MAPS)


def _schema(node: dict[str, Any]) -> None:
    """Rewrite one object if it is a 3.0 Schema Object (only those carry these keywords)."""
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        flag = node.get(exclusive)
        if isinstance(flag, bool):
            del node[exclusive]
            if flag and bound in node:
                node[exclusive] = node.pop(bound)
    nullable = node.get("nullable")
    if not isinstance(nullable, bool):
        return
    del node["nullable"]
    if not nullable:
        return
    kind = node.get("type")
    if isinstance(kind, str):
        node["type"] = [kind, "null"]
        if isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
    elif "$ref" in node or "allOf" in node:
        # 3.0 writers mean "this reference, or null"; 3.1 says so with anyOf.
        inner = {k: node.pop(k) for k in ("$ref", "allOf") if k in node}
        node["anyOf"] = [inner, {"type": "null"}]
    elif isinstance(node.get("anyOf"), list):
        node["anyOf"] = [*node["anyOf"], {"type": "null"}]
    elif isinstance(node.get("oneOf"), list):
        node["oneOf"] = [*node["oneOf"], {"type": "null"}]
    # An untyped schema already admits null.
