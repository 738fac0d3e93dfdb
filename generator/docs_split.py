"""Per-provider copies of the contract for the docs page, and their "Try it out" defaults.

Each provider (an operation tag) gets its own Swagger UI instance on the page, fed a copy of
the document that holds only that provider's operations and the components they reach.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from numspec.generator import specload
from numspec.generator.specload import HTTP_METHODS

Document = dict[str, Any]
ACCOUNT_KEY = "x-numspec-account"  # marks the path parameter naming the account


def iter_operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(path, method, path item, operation) for every operation, in document order."""
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield path, method, item, op


def provider_document(document: Document, tag: str, try_it_base: str | None = None) -> Document:
    """A copy of `document` holding only the operations tagged `tag` and what they use.

    When `try_it_base` is given, every server URL keeps its path but is moved onto that base
    ("" makes them host-relative, e.g. "/apiserver").
    """
    doc = copy.deepcopy(document)
    paths = _tagged(doc.get("paths"), tag)
    doc["paths"] = paths
    # Webhooks (what the provider sends) are cut by their tag like the operations.
    webhooks = _tagged(doc.get("webhooks"), tag)
    if webhooks:
        doc["webhooks"] = _inline_refs(doc, webhooks)
    else:
        doc.pop("webhooks", None)
    doc["tags"] = [t for t in doc.get("tags") or [] if isinstance(t, dict) and t.get("name") == tag]
    meta: dict[str, Any] = next(iter(doc["tags"]), {})
    info = dict(doc.get("info") or {})
    info["title"] = str(meta.get("x-displayName") or tag)
    info["description"] = ""  # the tag's own heading shows its description
    info.pop("summary", None)
    doc["info"] = info
    # Root servers: the servers the kept paths name, when every operation names some.
    path_servers: list[dict[str, Any]] = []
    everywhere = bool(paths)
    for item in paths.values():
        for method in HTTP_METHODS:
            if method in item:
                found = item[method].get("servers") or item.get("servers")
                everywhere = everywhere and bool(found)
                for server in found or []:
                    if server not in path_servers:
                        path_servers.append(server)
    if everywhere:
        doc["servers"] = copy.deepcopy(path_servers)
    if "components" in doc:
        doc["components"] = _prune_components(doc, doc["components"])
    if try_it_base is not None:
        _rebase_servers(doc, try_it_base)
    return doc


def _tagged(items: Any, tag: str) -> dict[str, Any]:
    """The path items (of `paths` or `webhooks`) with only their operations tagged `tag`;
    items left with none are dropped."""
    kept_items: dict[str, Any] = {}
    for name, item in (items or {}).items():
        if not isinstance(item, dict):
            continue
        kept = {k: v for k, v in item.items()
                if k not in HTTP_METHODS or tag in (v.get("tags") or [] if isinstance(v, dict) else [])}
        if any(m in kept for m in HTTP_METHODS):
            kept_items[name] = kept
    return kept_items


def _inline_refs(doc: Document, node: Any, seen: tuple[str, ...] = ()) -> Any:
    """`node` with every local `$ref` copied in (a ref back into its own chain stays a ref).

    For webhooks only: Swagger UI 5 does not resolve refs under `webhooks`, so an XML answer
    drew as an empty `<notagname/>` and referenced parameters and bodies went missing.
    """
    if isinstance(node, list):
        return [_inline_refs(doc, v, seen) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
        target = specload.resolve_pointer(doc, ref[1:])
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        inlined = _inline_refs(doc, copy.deepcopy(target), seen + (ref,))
        return {**inlined, **siblings} if isinstance(inlined, dict) else inlined
    return {k: _inline_refs(doc, v, seen) for k, v in node.items()}


def _prune_components(doc: Document, components: dict[str, Any]) -> dict[str, Any]:
    """Keep the components reachable from everything outside `components`."""
    keep: set[tuple[str, str]] = set()
    schemes: set[str] = set()
    todo: list[Any] = [{k: v for k, v in doc.items() if k != "components"}]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        refs = [node.get("$ref")]
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict) and isinstance(discriminator.get("mapping"), dict):
            refs.extend(discriminator["mapping"].values())
        for ref in refs:
            if isinstance(ref, str) and ref.startswith("#/components/"):
                parts = [specload.unescape(p) for p in ref[len("#/components/"):].split("/")]
                if len(parts) >= 2 and (parts[0], parts[1]) not in keep:
                    keep.add((parts[0], parts[1]))
                    todo.append(components.get(parts[0], {}).get(parts[1]))
        for requirement in node.get("security") or [] if isinstance(node.get("security"), list) else []:
            if isinstance(requirement, dict):
                schemes.update(requirement)
        todo.extend(v for k, v in node.items() if k != "security")
    pruned: dict[str, Any] = {}
    for section, entries in components.items():
        if not isinstance(entries, dict):
            continue
        wanted = {n: v for n, v in entries.items()
                  if (section, n) in keep or (section == "securitySchemes" and n in schemes)}
        if wanted:
            pruned[section] = wanted
    return pruned


_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*")


def _rebase(url: str, base: str) -> str:
    path = _ABSOLUTE_URL.sub("", url)
    if path and not path.startswith("/"):
        path = "/" + path
    return (base.rstrip("/") + path) or "/"


def _rebase_servers(node: Any, base: str) -> None:
    """Move every server object (root, path, operation, link) onto `base`, in place."""
    if isinstance(node, list):
        for value in node:
            _rebase_servers(value, base)
        return
    if not isinstance(node, dict):
        return
    servers = node.get("servers")
    found = servers if isinstance(servers, list) else []
    if isinstance(node.get("server"), dict):
        found = found + [node["server"]]
    for server in found:
        if isinstance(server, dict) and isinstance(server.get("url"), str):
            server["url"] = _rebase(server["url"], base)
            server["description"] = "this server" if not base else f"via {base}"
            variables = server.get("variables")
            if isinstance(variables, dict):
                kept = {k: v for k, v in variables.items() if "{" + k + "}" in server["url"]}
                if kept:
                    server["variables"] = kept
                else:
                    server.pop("variables")
    for key, value in node.items():
        if key not in ("servers", "server"):
            _rebase_servers(value, base)



def try_it_defaults(doc: Document, account: str | None) -> None:
    """Make "Try it out" start from values the serving server accepts, in place.

    Swagger UI fills each input with the parameter's example. The contract's example account
    exists on no server, so the account parameter gets `account` (the server's demo account)
    instead; query examples would filter a first listing down to nothing, so the inputs start
    empty and the example stays readable in the description.
    """
    for param in _parameters(doc):
        if param.get(ACCOUNT_KEY) is True:
            param.pop("examples", None)
            if account:
                param["example"] = account
            else:
                param.pop("example", None)
            continue
        if param.get("in") != "query":
            continue
        example = param.pop("example", None)
        param.pop("examples", None)
        schema = param.get("schema")
        if isinstance(schema, dict) and "$ref" not in schema:
            schema.pop("example", None)
            schema.pop("examples", None)
        if isinstance(example, (str, int, float)) and "`" not in str(example):
            text = str(param.get("description") or "").rstrip()
            param["description"] = (text + "\n\n" if text else "") + f"Example: `{example}`"


def _parameters(doc: Document) -> list[dict[str, Any]]:
    """Every parameter object written in `doc` (references are followed where they point)."""
    found = list(((doc.get("components") or {}).get("parameters") or {}).values())
    for item in (doc.get("paths") or {}).values():
        if isinstance(item, dict):
            found += item.get("parameters") or []
            found += [p for m in HTTP_METHODS if isinstance(item.get(m), dict)
                      for p in item[m].get("parameters") or []]
    return [p for p in found if isinstance(p, dict) and "$ref" not in p]
