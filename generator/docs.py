"""The contract as browsable documentation: one self-contained HTML page.

`build_html()` turns a bundled document into a single HTML file that works from file:// with
no network at all: Swagger UI's CSS and JS (from the installed swagger-ui-py package) are
inlined and the document is embedded as JSON. Each provider (an operation tag) gets its own
Swagger UI instance fed a filtered copy of the document. A table of equivalent operations and
fields is generated from two vendor extensions:

* `x-numspec-equivalent: <concept>` on an operation (e.g. list, buy, get, update, delete);
* `x-numspec-concept: <concept>` on a schema property or a parameter (e.g. phone-number).

`docs_app()` serves the same page as an ASGI app whose "Try it out" targets the server that
mounts it; `main()` implements `numspec docs [serve|build]`.
"""

from __future__ import annotations

import argparse
import copy
import html
import importlib.util
import json
import os
import re
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from numspec.generator import specload
from numspec.generator.specload import HTTP_METHODS

if TYPE_CHECKING:
    from starlette.applications import Starlette

EQUIVALENT_KEY = "x-numspec-equivalent"
CONCEPT_KEY = "x-numspec-concept"
ROLE_ORDER = ("path", "query", "header", "cookie", "request", "response")

Document = dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Reading the document


@dataclass(frozen=True)
class Provider:
    """One operation tag, shown as its own section."""

    tag: str
    title: str


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


@dataclass
class Equivalents:
    """Concept -> provider tag -> operations / field uses, in the order the document gives."""

    operations: dict[str, dict[str, list[Operation]]] = field(default_factory=dict)
    fields: dict[str, dict[str, list[FieldUse]]] = field(default_factory=dict)


def iter_operations(document: Document) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(path, method, path item, operation) for every operation, in document order."""
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                yield path, method, item, op


def providers(document: Document) -> list[Provider]:
    """Tags that carry operations: declared tags first, in their order, then undeclared ones."""
    used: list[str] = []
    for _, _, _, op in iter_operations(document):
        for tag in op.get("tags") or []:
            if tag not in used:
                used.append(tag)
    declared = {t["name"]: t for t in document.get("tags") or [] if isinstance(t, dict) and "name" in t}
    ordered = [name for name in declared if name in used] + [t for t in used if t not in declared]
    result = []
    for name in ordered:
        meta = declared.get(name, {})
        result.append(Provider(name, str(meta.get("x-displayName") or name)))
    return result


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


# ---------------------------------------------------------------------------------------------
# Per-provider documents


def provider_document(document: Document, tag: str, try_it_base: str | None = None) -> Document:
    """A copy of `document` holding only the operations tagged `tag` and what they use.

    When `try_it_base` is given, every server URL keeps its path but is moved onto that base
    ("" makes them host-relative, e.g. "/apiserver").
    """
    doc = copy.deepcopy(document)
    paths: dict[str, Any] = {}
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        kept = {k: v for k, v in item.items()
                if k not in HTTP_METHODS or tag in (v.get("tags") or [] if isinstance(v, dict) else [])}
        if any(m in kept for m in HTTP_METHODS):
            paths[path] = kept
    doc["paths"] = paths
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


# ---------------------------------------------------------------------------------------------
# Assets and safe embedding


def _asset_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; it ships the Swagger UI assets")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _assets() -> tuple[str, str, str]:
    """(css, js, version label) of the installed Swagger UI."""
    folder = _asset_dir()
    css = (folder / "swagger-ui.css").read_text(encoding="utf-8")
    js = (folder / "swagger-ui-bundle.js").read_text(encoding="utf-8")
    # Source-map comments would make developer tools fetch files that are not there.
    css = re.sub(r"/\*#\s*sourceMappingURL=[^*]*\*/", "", css)
    js = re.sub(r"//[#@]\s*sourceMappingURL=\S*\s*$", "", js)
    try:
        version = f"swagger-ui-py {metadata.version('swagger-ui-py')}"
    except metadata.PackageNotFoundError:
        version = "swagger-ui-py"
    return css, js, version


def json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' can end or open a tag."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_SCRIPT_TOKENS = re.compile(r"<!--|-->|<script(?=[\s/>])", re.IGNORECASE)


def script_text(js: str) -> str:
    """JavaScript made safe to inline in <script>: '</script' cannot end the element early.

    '</script' becomes '<\\/script' (the same text in strings, regexes and comments). An HTML
    parser that meets '<!--' and then '<script' without '-->' would swallow our own closing
    tag; that case is refused rather than silently producing a broken page.
    """
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    state = "data"
    for token in _SCRIPT_TOKENS.finditer(js):
        text = token.group(0)
        if text == "-->":
            state = "data"
        elif text == "<!--" and state == "data":
            state = "escaped"
        elif text.lower().startswith("<script") and state == "escaped":
            state = "double-escaped"
    if state == "double-escaped":
        raise ValueError("this script cannot be inlined safely: '<!--' then '<script' is left open")
    return js


def style_text(css: str) -> str:
    return re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# HTML


def markdown_html(text: str) -> str:
    """The small Markdown subset our descriptions use: paragraphs, bullets, `code`, **bold**."""
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    out = []
    for block in blocks:
        lines = block.splitlines()
        if all(re.match(r"\s*[*-] ", ln) or ln.startswith("  ") for ln in lines) \
                and re.match(r"\s*[*-] ", lines[0]):
            items: list[str] = []
            for ln in lines:
                if re.match(r"\s*[*-] ", ln):
                    items.append(re.sub(r"^\s*[*-] ", "", ln))
                else:
                    items[-1] += " " + ln.strip()
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(ln.strip() for ln in lines))}</p>")
    return "\n".join(out)


def _inline(text: str) -> str:
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            escaped = html.escape(part, quote=False)
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped))
    return "".join(out)


def _auth_cards(document: Document, provs: list[Provider]) -> str:
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    cards = []
    for prov in provs:
        names: list[str] = []
        for _, _, _, op in iter_operations(document):
            if prov.tag in (op.get("tags") or []):
                for requirement in op.get("security", document.get("security")) or []:
                    names.extend(n for n in requirement if n not in names)
        body = []
        for name in names:
            scheme = schemes.get(name) or {}
            kind = str(scheme.get("type", "?"))
            if kind == "http":
                kind = f"HTTP {str(scheme.get('scheme', '')).capitalize()}"
            body.append(f'<p class="scheme"><span class="badge">{html.escape(kind)}</span> '
                        f'<code>{html.escape(name)}</code></p>'
                        + markdown_html(str(scheme.get("description") or "")))
        if not body:
            body.append("<p>No authentication is declared.</p>")
        cards.append(f'<div class="card"><h3>{html.escape(prov.title)}</h3>{"".join(body)}</div>')
    return "".join(cards)


def _roles(roles: set[str]) -> str:
    ordered = sorted(roles, key=lambda r: (ROLE_ORDER.index(r) if r in ROLE_ORDER else 99, r))
    return " · ".join(ordered)


def equivalents_html(document: Document, provs: list[Provider]) -> str:
    """The mapping tables, or a note saying the annotations are missing."""
    eq = equivalents(document)
    note = (f"<p>Generated from the contract: operations carry <code>{EQUIVALENT_KEY}</code> and "
            f"properties or parameters carry <code>{CONCEPT_KEY}</code>; rows group what shares "
            "a value. A dash means the provider has no counterpart in this contract.</p>")
    if not eq.operations and not eq.fields:
        return note + ('<p class="empty">The contract has no such annotations yet, so there is '
                       "nothing to compare.</p>")
    head = "".join(f"<th>{html.escape(p.title)}</th>" for p in provs)
    parts = [note]
    if eq.operations:
        rows = []
        for concept, by_tag in eq.operations.items():
            cells = []
            for prov in provs:
                ops = by_tag.get(prov.tag, [])
                items = "".join(
                    f'<li><a class="op-link" href="#operations-{html.escape(o.tag)}-'
                    f'{html.escape(o.operation_id)}" data-tag="{html.escape(o.tag)}" '
                    f'data-op="{html.escape(o.operation_id)}" title="{html.escape(o.summary)}">'
                    f'<span class="m m-{o.method.lower()}">'
                    f'{o.method}</span> <code>{html.escape(o.path)}</code></a> '
                    f'<span class="opid">{html.escape(o.operation_id)}</span></li>' for o in ops)
                cells.append(f"<td><ul>{items}</ul></td>" if ops else '<td class="none">—</td>')
            rows.append(f'<tr><th scope="row">{html.escape(concept)}</th>{"".join(cells)}</tr>')
        parts.append('<h3>Operations</h3><table class="map" id="map-operations"><thead><tr>'
                     f'<th>Concept</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    if eq.fields:
        rows = []
        for concept, uses_by_tag in eq.fields.items():
            cells = []
            for prov in provs:
                uses = uses_by_tag.get(prov.tag, [])
                items = "".join(
                    f"<li><code>{html.escape(u.name)}</code>"
                    + (f' <span class="xml">XML <code>{html.escape(u.xml_name)}</code></span>'
                       if u.xml_name and u.xml_name != u.name.rsplit(".", 1)[-1] else "")
                    + f' <span class="roles">{html.escape(_roles(u.roles))}</span></li>'
                    for u in uses)
                cells.append(f"<td><ul>{items}</ul></td>" if uses else '<td class="none">—</td>')
            rows.append(f'<tr><th scope="row">{html.escape(concept)}</th>{"".join(cells)}</tr>')
        parts.append('<h3>Fields and parameters</h3><table class="map" id="map-fields"><thead><tr>'
                     f'<th>Concept</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return "".join(parts)


def ui_options(try_it: bool) -> dict[str, Any]:
    """Options shared by every Swagger UI instance on the page."""
    return {
        "layout": "BaseLayout",
        "deepLinking": False,
        "docExpansion": "list",
        "defaultModelsExpandDepth": 0,
        "displayOperationId": True,
        "displayRequestDuration": True,
        "showExtensions": False,
        "showCommonExtensions": True,
        "tryItOutEnabled": False,
        "validatorUrl": None,
        "queryConfigEnabled": False,
        "persistAuthorization": False,
        "supportedSubmitMethods": list(HTTP_METHODS) if try_it else [],
        "syntaxHighlight": {"activated": True, "theme": "agate"},
    }


def build_html(document: Document, try_it_base: str | None = None) -> str:
    """One self-contained HTML page documenting `document`, one section per provider.

    With `try_it_base` None the page is for reading only ("Try it out" is off: from a file
    every request would be cross-origin, and buying a number costs money). Otherwise requests
    go to each server's path on `try_it_base` ("" = the host serving the page).
    """
    css, js, version = _assets()
    provs = providers(document)
    info = document.get("info") or {}
    title = str(info.get("title") or "API documentation")
    data = {
        "options": ui_options(try_it_base is not None),
        "providers": [{"tag": p.tag, "title": p.title,
                       "document": provider_document(document, p.tag, try_it_base)} for p in provs],
        "contract": document,
    }
    if try_it_base is None:
        trying = ("<p>This page is for reading; sending requests is switched off. Run "
                  "<code>numspec serve</code> and open <code>/docs</code> on it to try every "
                  "operation against the emulator.</p>")
    else:
        trying = ("<p>“Try it out” sends real requests to this server. Press <strong>Authorize"
                  "</strong> in a provider's section and enter the user name and password first."
                  "</p>")
    tabs = ['<button role="tab" data-view="all">Side by side</button>']
    tabs += [f'<button role="tab" data-view="{html.escape(p.tag)}">{html.escape(p.title)}</button>'
             for p in provs]
    tabs.append('<button role="tab" data-view="equivalents">Equivalents</button>')
    sections = "".join(
        f'<section class="provider" data-provider="{html.escape(p.tag)}" '
        f'aria-label="{html.escape(p.title)}"><div id="ui-{html.escape(p.tag)}"></div></section>'
        for p in provs)
    summary = str(info.get("summary") or "")
    about = str(info.get("description") or "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<style>{style_text(css)}</style>
<style>{PAGE_CSS}</style>
</head>
<body data-view="all">
<header class="top">
  <h1>{html.escape(title)}</h1>
  <span class="version">{html.escape(str(info.get("version") or ""))}</span>
  <a id="download" href="#" download="openapi.json">Download the contract (JSON)</a>
</header>
<main>
<div class="intro">
  {f'<p class="lead">{_inline(summary)}</p>' if summary else ""}
  {f'<details class="about"><summary>About this contract</summary>{markdown_html(about)}</details>'
   if about else ""}
</div>
<section class="auth" id="authentication" aria-labelledby="auth-title">
  <h2 id="auth-title">Authentication</h2>
  <p>Both providers use HTTP Basic authentication: every request carries
  <code>Authorization: Basic</code> followed by the base64 of <code>user:password</code>,
  and the account named in the path must be the one the credentials belong to (or, on
  Restcomm, a sub-account of it).</p>
  <div class="cards">{_auth_cards(document, provs)}</div>
  {trying}
</section>
<nav class="views" role="tablist" aria-label="Views">{"".join(tabs)}</nav>
<div class="providers">{sections}</div>
<section class="equivalents" id="equivalents" aria-labelledby="eq-title">
  <h2 id="eq-title">Equivalent operations and fields</h2>
  {equivalents_html(document, provs)}
</section>
</main>
<footer>Rendered offline by numspec with Swagger UI ({html.escape(version)}, Apache-2.0).</footer>
<script type="application/json" id="numspec-data">{json_for_script(data)}</script>
<script>{script_text(js)}</script>
<script>{PAGE_JS}</script>
</body>
</html>
"""


PAGE_CSS = """
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933;
  background: #f6f8fa; }
header.top { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.5rem;
  background: #1b2a3a; color: #fff; }
header.top h1 { font-size: 1.25rem; margin: 0; font-weight: 600; }
header.top .version { font-size: .8rem; background: #3b4f63; padding: .1rem .5rem; border-radius: 8px; }
header.top a { margin-left: auto; color: #9fd3ff; font-size: .9rem; }
main { padding: 0 1.5rem 2rem; }
.intro .lead { font-size: 1.05rem; margin: 1rem 0 .4rem; }
.about { margin: .3rem 0 .8rem; max-width: 72rem; }
.about summary { cursor: pointer; color: #3b5b7a; }
.auth { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; padding: .6rem 1rem;
  max-width: 100%; }
.auth h2, .equivalents h2 { font-size: 1.1rem; margin: .3rem 0; }
.auth > p { margin: .4rem 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: .8rem; }
.card { border-left: 4px solid #49cc90; background: #f8fbf9; padding: .2rem .8rem; }
.card + .card { border-left-color: #61affe; background: #f6f9fd; }
.card h3 { margin: .4rem 0 .2rem; font-size: 1rem; }
.card p { margin: .3rem 0; }
.badge { font-size: .75rem; background: #1b2a3a; color: #fff; border-radius: 4px; padding: 0 .4rem; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9em;
  background: #eef1f4; padding: 0 .2rem; border-radius: 3px; }
nav.views { position: sticky; top: 0; z-index: 10; display: flex; gap: .3rem; margin: 1rem 0 0;
  padding: .5rem 0; background: #f6f8fa; border-bottom: 2px solid #d8dee4; }
nav.views button { font: inherit; padding: .35rem .9rem; border: 1px solid #c6ced6;
  background: #fff; border-radius: 4px; cursor: pointer; }
nav.views button[aria-selected="true"] { background: #1b2a3a; color: #fff; border-color: #1b2a3a; }
.providers { display: grid; gap: 1rem; grid-template-columns: 1fr; }
body[data-view="all"] .providers { grid-template-columns: repeat(auto-fit, minmax(40rem, 1fr)); }
.provider { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; min-width: 0; }
.provider .swagger-ui .wrapper { padding: 0 1rem; }
.provider .swagger-ui .information-container .info { margin: 1rem 0; }
.provider .swagger-ui .scheme-container { box-shadow: none; padding: .5rem 0; }
.provider .swagger-ui .opblock .opblock-summary-path { word-break: break-all; }
.provider .swagger-ui .opblock .opblock-summary-operation-id { white-space: nowrap; font-size: 12px; }
[hidden] { display: none !important; }
.equivalents { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; padding: .6rem 1rem;
  margin-top: 1rem; }
table.map { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
table.map th, table.map td { border: 1px solid #d8dee4; padding: .35rem .5rem; vertical-align: top;
  text-align: left; }
table.map thead th { background: #eef1f4; }
table.map tbody th { white-space: nowrap; font-weight: 600; }
table.map ul { list-style: none; margin: 0; padding: 0; }
table.map li + li { margin-top: .2rem; }
table.map td.none { color: #8a96a3; text-align: center; }
.op-link { text-decoration: none; color: inherit; }
.op-link:hover code { text-decoration: underline; }
.m { display: inline-block; min-width: 3.6rem; text-align: center; font-size: .75rem; font-weight: 700;
  color: #fff; border-radius: 3px; background: #777; }
.m-get { background: #61affe; } .m-post { background: #49cc90; } .m-put { background: #fca130; }
.m-delete { background: #f93e3e; } .m-patch { background: #50e3c2; }
.opid, .roles, .xml { color: #5c6b7a; font-size: .85em; }
table.map .opid { display: block; margin-left: 3.9rem; }
.empty { color: #8a5a00; }
footer { padding: 1rem 1.5rem; color: #5c6b7a; font-size: .85rem; }
"""

PAGE_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("numspec-data").textContent);
  data.providers.forEach(function (p) {
    var options = Object.assign({}, data.options, {
      spec: p.document,
      domNode: document.getElementById("ui-" + p.tag),
      presets: [SwaggerUIBundle.presets.apis]
    });
    window["ui_" + p.tag] = SwaggerUIBundle(options);
  });
  var views = ["all", "equivalents"].concat(data.providers.map(function (p) { return p.tag; }));
  function show(view) {
    if (views.indexOf(view) < 0) { view = "all"; }
    document.body.dataset.view = view;
    document.querySelectorAll("nav.views button").forEach(function (b) {
      b.setAttribute("aria-selected", String(b.dataset.view === view));
    });
    document.querySelectorAll("section.provider").forEach(function (s) {
      s.hidden = !(view === "all" || view === s.dataset.provider);
    });
    document.querySelector("section.equivalents").hidden = view !== "equivalents";
  }
  document.querySelectorAll("nav.views button").forEach(function (b) {
    b.addEventListener("click", function () {
      show(b.dataset.view);
      history.replaceState(null, "", "#" + b.dataset.view);
    });
  });
  document.querySelectorAll("a.op-link").forEach(function (a) {
    a.addEventListener("click", function (event) {
      event.preventDefault();
      show(a.dataset.tag);
      var block = document.getElementById("operations-" + a.dataset.tag + "-" + a.dataset.op);
      if (!block) { return; }
      if (!block.classList.contains("is-open")) {
        var summary = block.querySelector(".opblock-summary-control") ||
          block.querySelector(".opblock-summary");
        if (summary) { summary.click(); }
      }
      block.scrollIntoView({block: "start"});
    });
  });
  document.getElementById("download").addEventListener("click", function (event) {
    var blob = new Blob([JSON.stringify(data.contract, null, 2) + "\\n"], {type: "application/json"});
    event.currentTarget.href = URL.createObjectURL(blob);
  });
  show(location.hash.slice(1));
})();
"""


# ---------------------------------------------------------------------------------------------
# Serving and writing


def docs_app(document: Document, try_it_base: str = "") -> Starlette:
    """An ASGI app serving the page at its root, with "Try it out" aimed at `try_it_base`.

    Mount it where the emulator serves both providers, e.g. `app.mount("/docs", docs_app(doc))`;
    the default base "" turns https://www.freeclimb.com/apiserver into /apiserver and
    https://{host}/restcomm into /restcomm, so requests reach the mounting server on any port.
    """
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    page = build_html(document, try_it_base).encode("utf-8")
    contract = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    async def openapi(request: Request) -> Response:
        return Response(contract, media_type="application/json")

    return Starlette(routes=[Route("/", index, methods=["GET", "HEAD"]),
                             Route("/openapi.json", openapi, methods=["GET", "HEAD"])])


def write_atomic(path: Path, content: bytes) -> None:
    """Write `content` to `path` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_server(host: str, port: int, page: bytes) -> ThreadingHTTPServer:
    """A stdlib HTTP server answering GET / (and /index.html) with `page`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def _answer(self, with_body: bool) -> None:
            if self.path.split("?", 1)[0] not in ("/", "/index.html"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if with_body:
                self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    return Server((host, port), Handler)


def main(args: argparse.Namespace) -> int:
    document = specload.load(args.spec).document
    page = build_html(document).encode("utf-8")
    if args.action == "build":
        out = Path(args.out)
        if out.is_dir():
            print(f"error: --out {out} is a folder; name the HTML file to write", file=sys.stderr)
            return 1
        try:
            write_atomic(out, page)
        except OSError as exc:
            print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote {out} ({len(page):,} bytes)")
        return 0
    try:
        server = make_server(args.host, args.port, page)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving the docs on http://{shown}:{server.server_address[1]}/ (Ctrl-C to stop)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
