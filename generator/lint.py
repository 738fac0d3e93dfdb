"""`numspec lint`: check a contract and list its operations per provider.

Every rule is one function from the bundled document to problems located by JSON pointers in
that document. `lint()` maps each pointer back to the source file and pointer the author edits.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import UnknownType, ValidationError
from numspec.generator import specload
from numspec.generator.specload import (
    HTTP_METHODS,
    Finding,
    LoadedSpec,
    pointer_join,
    resolve_pointer,
    unescape,
)
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator.validation.exceptions import (
    DuplicateOperationIDError,
    OpenAPIValidationError,
    UnresolvableParameterError,
)
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

Doc = dict[str, Any]
Problem = tuple[str, str]  # (pointer in the bundled document, message)
Rule = Callable[[Doc], Iterable[Problem]]

CHECKED_SECTIONS = ("schemas", "parameters", "responses", "examples", "requestBodies",
                    "headers", "links", "securitySchemes")
BUNDLE_URI = "urn:numspec:bundle"
MAX_MESSAGE = 240
ERROR, WARNING = "error", "warning"


# ---------------------------------------------------------------------------------------------
# Small helpers over the document


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _walk(node: Any) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every mapping in the tree, in document order, with its path (the tokens of its
    pointer: joining them only for what is reported keeps lint fast on large documents)."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), node)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            yield path, item
            children = list(item.items())
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            continue
        stack.extend((path + (key,), value) for key, value in reversed(children)
                     if isinstance(value, (dict, list)))


def _operations(doc: Doc) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(path, method, pointer, operation) for every operation under `paths`, in document order."""
    for path, item in _dict(doc.get("paths")).items():
        for method in HTTP_METHODS:
            operation = _dict(item).get(method)
            if isinstance(operation, dict):
                yield path, method, pointer_join("/paths", path, method), operation


def _security_requirements(doc: Doc) -> Iterator[tuple[str, list[Any]]]:
    yield "/security", _list(doc.get("security"))
    for _, _, ptr, operation in _operations(doc):
        yield pointer_join(ptr, "security"), _list(operation.get("security"))


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"


# ---------------------------------------------------------------------------------------------
# a. openapi-spec-validator

_UNRESOLVED_PARAM = re.compile(r"for '(?P<method>\w+)' operation in '(?P<path>[^']*)'")


def check_openapi(doc: Doc) -> Iterator[Problem]:
    """The OpenAPI 3.1 meta-schema (fast: it does not look inside Schema Objects)."""
    validator = OpenAPIV31SpecValidator(doc)
    # The two phases are run apart because only the first reports paths into the document;
    # the combined iter_errors() mixes them with paths relative to a schema or default value.
    try:
        for error in validator.schema_validator.iter_errors(doc):
            yield pointer_join("", *error.absolute_path), _first_line(error.message)
    except Unresolvable as exc:
        yield "", f"openapi-spec-validator stopped at an unresolvable $ref {exc.ref!r}"


def check_openapi_semantics(doc: Doc) -> Iterator[Problem]:
    """openapi-spec-validator's own checks: every schema against the JSON Schema meta-schema,
    path parameters declared, ... (most of lint's time on a large document)."""
    validator = OpenAPIV31SpecValidator(doc)
    try:
        for error in validator.root_validator(validator.schema_path):
            problem = _semantic_problem(doc, error)
            if problem is not None:
                yield problem
    except Unresolvable as exc:
        # check_references names the dangling $ref; say why the validator gave up.
        yield "", f"openapi-spec-validator stopped at an unresolvable $ref {exc.ref!r}"


def _semantic_problem(doc: Doc, error: ValidationError) -> Problem | None:
    if not isinstance(error, OpenAPIValidationError):
        return None  # a bad schema `default`: check_examples reports it with its exact pointer
    if isinstance(error, DuplicateOperationIDError):
        return None  # check_operation_ids reports both places
    message = _first_line(error.message)
    if isinstance(error, UnresolvableParameterError):
        match = _UNRESOLVED_PARAM.search(error.message)
        if match:
            return pointer_join("/paths", match["path"], match["method"]), message
    if error.path:
        # A schema that breaks the JSON Schema meta-schema: the path is relative to that schema.
        for schema_ptr in _schema_pointers(doc):
            try:
                if resolve_pointer(doc, pointer_join(schema_ptr, *error.path)) == error.instance:
                    return pointer_join(schema_ptr, *error.path), message
            except KeyError:
                continue
    return "", message


def _schema_pointers(doc: Doc) -> list[str]:
    sites = _Sites(doc)
    for _ in sites.all():
        pass
    return sites.schemas


# ---------------------------------------------------------------------------------------------
# b. examples and defaults match their schemas

Site = tuple[str, str, str]  # (pointer of the value, "example" or "default", pointer of its schema)

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SCHEMA_ONE = ("additionalProperties", "items", "contains", "not", "if", "then", "else",
               "propertyNames", "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


class _Sites:
    """Finds every example and default in the document, paired with the schema it must match
    (and, on the way, every schema: `schemas` lists their pointers).

    Objects that are a `$ref` are skipped where they are used and checked where they are
    defined (under components), so each value is checked once per schema it must match.
    """

    def __init__(self, doc: Doc):
        self.doc = doc
        self.schemas: list[str] = []

    def all(self) -> Iterator[Site]:
        for path, item in _dict(self.doc.get("paths")).items():
            yield from self.path_item(pointer_join("/paths", path), item)
        for name, item in _dict(self.doc.get("webhooks")).items():
            yield from self.path_item(pointer_join("/webhooks", name), item)
        components = _dict(self.doc.get("components"))
        visitors: dict[str, Callable[[str, Any], Iterator[Site]]] = {
            "schemas": self.schema, "parameters": self.parameter, "headers": self.parameter,
            "requestBodies": self.body, "responses": self.response,
            "pathItems": self.path_item, "callbacks": self.callback,
        }
        for section, visit in visitors.items():
            for name, obj in _dict(components.get(section)).items():
                yield from visit(pointer_join("/components", section, name), obj)

    def path_item(self, ptr: str, item: Any) -> Iterator[Site]:
        item = _dict(item)
        if "$ref" in item:
            return
        for i, parameter in enumerate(_list(item.get("parameters"))):
            yield from self.parameter(pointer_join(ptr, "parameters", i), parameter)
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield from self.operation(pointer_join(ptr, method), item[method])

    def operation(self, ptr: str, op: dict[str, Any]) -> Iterator[Site]:
        for i, parameter in enumerate(_list(op.get("parameters"))):
            yield from self.parameter(pointer_join(ptr, "parameters", i), parameter)
        if "requestBody" in op:
            yield from self.body(pointer_join(ptr, "requestBody"), op["requestBody"])
        for code, response in _dict(op.get("responses")).items():
            yield from self.response(pointer_join(ptr, "responses", code), response)
        for name, callback in _dict(op.get("callbacks")).items():
            yield from self.callback(pointer_join(ptr, "callbacks", name), callback)

    def callback(self, ptr: str, callback: Any) -> Iterator[Site]:
        callback = _dict(callback)
        if "$ref" not in callback:
            for expression, item in callback.items():
                yield from self.path_item(pointer_join(ptr, expression), item)

    def parameter(self, ptr: str, obj: Any) -> Iterator[Site]:
        """A parameter or a header: both carry a schema or content, and examples."""
        obj = _dict(obj)
        if "$ref" in obj:
            return
        if "schema" in obj:
            schema_ptr = pointer_join(ptr, "schema")
            yield from self.schema(schema_ptr, obj["schema"])
            yield from self.examples(ptr, obj, schema_ptr)
        yield from self.content(pointer_join(ptr, "content"), obj.get("content"))

    def body(self, ptr: str, obj: Any) -> Iterator[Site]:
        obj = _dict(obj)
        if "$ref" not in obj:
            yield from self.content(pointer_join(ptr, "content"), obj.get("content"))

    def response(self, ptr: str, obj: Any) -> Iterator[Site]:
        obj = _dict(obj)
        if "$ref" in obj:
            return
        for name, header in _dict(obj.get("headers")).items():
            yield from self.parameter(pointer_join(ptr, "headers", name), header)
        yield from self.content(pointer_join(ptr, "content"), obj.get("content"))

    def content(self, ptr: str, content: Any) -> Iterator[Site]:
        for media_type, media in _dict(content).items():
            media_ptr = pointer_join(ptr, media_type)
            media = _dict(media)
            if "schema" in media:
                schema_ptr = pointer_join(media_ptr, "schema")
                yield from self.schema(schema_ptr, media["schema"])
                yield from self.examples(media_ptr, media, schema_ptr)
            for name, encoding in _dict(media.get("encoding")).items():
                for header, obj in _dict(_dict(encoding).get("headers")).items():
                    yield from self.parameter(
                        pointer_join(media_ptr, "encoding", name, "headers", header), obj)

    def examples(self, ptr: str, obj: dict[str, Any], schema_ptr: str) -> Iterator[Site]:
        """`example` and `examples.*.value` of a parameter, header or media type."""
        if "example" in obj:
            yield pointer_join(ptr, "example"), "example", schema_ptr
        for name, example in _dict(obj.get("examples")).items():
            example = _dict(example)
            ref = example.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                try:
                    target = resolve_pointer(self.doc, ref[1:])
                except KeyError:
                    continue  # check_references reports it
                if "value" in _dict(target):
                    yield pointer_join(ref[1:], "value"), "example", schema_ptr
            elif "value" in example:
                yield pointer_join(ptr, "examples", name, "value"), "example", schema_ptr

    def schema(self, ptr: str, schema: Any) -> Iterator[Site]:
        """Schema-level `example`, `examples` and `default`, at every depth."""
        if not isinstance(schema, dict):
            return
        self.schemas.append(ptr)
        if "example" in schema:
            yield pointer_join(ptr, "example"), "example", ptr
        for i, _ in enumerate(_list(schema.get("examples"))):
            yield pointer_join(ptr, "examples", i), "example", ptr
        if "default" in schema:
            yield pointer_join(ptr, "default"), "default", ptr
        for key in _SCHEMA_MAPS:
            for name, sub in _dict(schema.get(key)).items():
                yield from self.schema(pointer_join(ptr, key, name), sub)
        for key in _SCHEMA_ONE:
            if key in schema:
                yield from self.schema(pointer_join(ptr, key), schema[key])
        for key in _SCHEMA_LISTS:
            for i, sub in enumerate(_list(schema.get(key))):
                yield from self.schema(pointer_join(ptr, key, i), sub)


def check_examples(doc: Doc) -> Iterator[Problem]:
    """Every example and default validates (Draft 2020-12, formats checked) against its schema."""
    registry: Registry[Any] = Registry().with_resource(BUNDLE_URI, DRAFT202012.create_resource(doc))
    validators: dict[str, Draft202012Validator] = {}
    for value_ptr, kind, schema_ptr in _Sites(doc).all():
        if schema_ptr not in validators:
            ref = f"{BUNDLE_URI}#{quote(schema_ptr, safe='/~')}"
            validators[schema_ptr] = Draft202012Validator(
                {"$ref": ref}, registry=registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER)
        try:
            errors = list(validators[schema_ptr].iter_errors(resolve_pointer(doc, value_ptr)))
        except (Unresolvable, UnknownType, re.error):
            continue  # a broken schema: check_references or check_openapi reports it
        for error in errors:
            yield (pointer_join(value_ptr, *error.absolute_path),
                   f"{kind} does not match its schema: {_first_line(error.message)}")


# ---------------------------------------------------------------------------------------------
# c. internal references resolve


def check_references(doc: Doc) -> Iterator[Problem]:
    """Every `#...` $ref resolves, and every link names an operation that exists."""
    anchors: set[str] = set()
    refs: list[tuple[tuple[Any, ...], str]] = []
    links: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for path, node in _walk(doc):
        anchors.update(node[key] for key in ("$anchor", "$dynamicAnchor")
                       if isinstance(node.get(key), str))
        if isinstance(node.get("$ref"), str):
            refs.append((path, node["$ref"]))
        if isinstance(node.get("links"), dict):
            links.append((path, node))
    operation_ids = {op.get("operationId") for _, _, _, op in _operations(doc)}
    resolved: dict[str, bool] = {}  # GitHub's document has 30,000 refs to 1,500 targets
    for path, ref in refs:
        if ref.startswith("#") and ref not in resolved:
            resolved[ref] = _resolves(doc, ref, anchors)
        if ref.startswith("#") and not resolved[ref]:
            yield pointer_join("", *path, "$ref"), f"dangling $ref {ref!r}"
    for path, node in links:
        ptr = pointer_join("", *path)
        for name, link in _dict(node.get("links")).items():
            link = _dict(link)
            target = link.get("operationId")
            if isinstance(target, str) and target not in operation_ids:
                yield (pointer_join(ptr, "links", name, "operationId"),
                       f"link names operationId {target!r}, which no operation has")
            op_ref = link.get("operationRef")
            if isinstance(op_ref, str) and op_ref.startswith("#") \
                    and not _resolves(doc, op_ref, anchors):
                yield (pointer_join(ptr, "links", name, "operationRef"),
                       f"dangling operationRef {op_ref!r}")


def _resolves(doc: Doc, ref: str, anchors: set[str]) -> bool:
    fragment = ref[1:]
    if fragment and not fragment.startswith("/"):
        return fragment in anchors
    try:
        resolve_pointer(doc, fragment)
    except KeyError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# d. security requirements name defined schemes


def check_security(doc: Doc) -> Iterator[Problem]:
    defined = _dict(_dict(doc.get("components")).get("securitySchemes"))
    for ptr, requirements in _security_requirements(doc):
        for i, requirement in enumerate(requirements):
            for name in _dict(requirement):
                if name not in defined:
                    yield (pointer_join(ptr, i, name),
                           f"security scheme {name!r} is not defined in components.securitySchemes")


# ---------------------------------------------------------------------------------------------
# e. every operation documents a client error

_4XX = re.compile(r"4(\d\d|XX)")


def check_4xx(doc: Doc) -> Iterator[Problem]:
    for path, method, ptr, operation in _operations(doc):
        responses = operation.get("responses")
        if isinstance(responses, dict) and not any(_4XX.fullmatch(str(c)) for c in responses):
            yield pointer_join(ptr, "responses"), f"{method.upper()} {path} documents no 4xx response"


# ---------------------------------------------------------------------------------------------
# f. operationIds present (advice) and unique (OpenAPI requires it)


def check_operation_ids_present(doc: Doc) -> Iterator[Problem]:
    for path, method, ptr, operation in _operations(doc):
        operation_id = operation.get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            yield ptr, f"{method.upper()} {path} has no operationId"


def check_operation_ids_unique(doc: Doc) -> Iterator[Problem]:
    seen: dict[str, list[tuple[str, str]]] = {}
    for path, method, ptr, operation in _operations(doc):
        operation_id = operation.get("operationId")
        if isinstance(operation_id, str) and operation_id:
            seen.setdefault(operation_id, []).append((ptr, f"{method.upper()} {path}"))
    for operation_id, places in seen.items():
        for ptr, _ in places if len(places) > 1 else ():
            others = ", ".join(name for other, name in places if other != ptr)
            yield pointer_join(ptr, "operationId"), f"operationId {operation_id!r} is also used by {others}"


# ---------------------------------------------------------------------------------------------
# g. no unused components

Component = tuple[str, str]  # (section, name)


def check_unused_components(doc: Doc) -> Iterator[Problem]:
    """A component is used when something outside the components refers to it, directly or
    through other used components; a security scheme also when a requirement names it."""
    refs: dict[Component | None, set[Component]] = {}
    for path, node in _walk(doc):
        found = set(_component_refs(node))
        if found:
            refs.setdefault(_owner(path), set()).update(found)
    todo = list(refs.get(None, set()))
    todo += [("securitySchemes", name) for _, requirements in _security_requirements(doc)
             for requirement in requirements for name in _dict(requirement)]
    reached: set[Component] = set()
    while todo:
        component = todo.pop()
        if component not in reached:
            reached.add(component)
            todo.extend(refs.get(component, ()))
    components = _dict(doc.get("components"))
    for section in CHECKED_SECTIONS:
        for name in _dict(components.get(section)):
            if (section, name) not in reached:
                yield pointer_join("/components", section, name), _unused(section, name)


def _unused(section: str, name: str) -> str:
    return f"unused component: nothing refers to components.{section}.{name}"


def _owner(path: tuple[Any, ...]) -> Component | None:
    if len(path) >= 3 and path[0] == "components" and path[1] in CHECKED_SECTIONS:
        return str(path[1]), str(path[2])
    return None


def _component_refs(node: dict[str, Any]) -> Iterator[Component]:
    targets = [node.get("$ref")]
    # discriminator mappings name schemas by reference or by bare name
    mapping = _dict(_dict(node.get("discriminator")).get("mapping"))
    targets += [v if str(v).startswith("#") else f"#/components/schemas/{v}"
                for v in mapping.values()]
    for target in targets:
        if isinstance(target, str) and target.startswith("#/components/"):
            tokens = [unescape(t) for t in target[len("#/components/"):].split("/")]
            if len(tokens) >= 2 and tokens[0] in CHECKED_SECTIONS:
                yield tokens[0], tokens[1]


def unbundled_components(loaded: LoadedSpec, sources: Mapping[Path, Doc]) -> Iterator[Finding]:
    """Components of other files that nothing refers to never reach the bundled document, so
    they are looked for in the source files themselves."""
    for path, source in sources.items():
        if path == loaded.root:
            continue
        file = loaded.display(path)
        components = _dict(source.get("components"))
        for section in CHECKED_SECTIONS:
            for name in _dict(components.get(section)):
                ptr = pointer_join("/components", section, name)
                if loaded.origins.get(ptr) != (file, ptr):
                    yield Finding(file, ptr, _unused(section, name), severity=WARNING)


# ---------------------------------------------------------------------------------------------
# Putting it together

# Errors: the document is not valid OpenAPI or refers to what is not there. Warnings: advice
# that real documents often ignore and that does not stop code generation.
RULES: tuple[tuple[Rule, str], ...] = (
    (check_openapi, ERROR), (check_openapi_semantics, ERROR), (check_references, ERROR),
    (check_security, ERROR), (check_operation_ids_unique, ERROR), (check_examples, WARNING),
    (check_4xx, WARNING), (check_operation_ids_present, WARNING),
    (check_unused_components, WARNING),
)
# What `numspec generate` runs: all but the per-schema semantic pass, which costs more than
# generating (GitHub's document: ~30 s); what it would find, generation meets as a skip.
QUICK_RULES = tuple(rule for rule in RULES if rule[0] is not check_openapi_semantics)


def lint(loaded: LoadedSpec, sources: Mapping[Path, Doc] | None = None,
         rules: tuple[tuple[Rule, str], ...] = RULES) -> list[Finding]:
    """All findings for a loaded contract, each located in the file the author edits.

    `sources` (the parsed files of a multi-file contract) lets the unused-component rule see
    components that bundling dropped because nothing refers to them.
    """
    found: dict[tuple[str, str, str], Finding] = {}
    for rule, severity in rules:
        for ptr, message in rule(loaded.document):
            file, inner = loaded.locate(ptr)
            found.setdefault((file, inner, message), Finding(file, inner, message, severity=severity))
    for finding in unbundled_components(loaded, sources or {}):
        found.setdefault((finding.file, finding.pointer, finding.message), finding)
    return list(found.values())


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]


def operations_table(doc: Doc) -> str:
    """A plain-text table of the operations, grouped by their first tag (the provider)."""
    groups: dict[str, list[tuple[str, str, str, str]]] = {}
    for path, method, _, operation in _operations(doc):
        tags = _list(operation.get("tags"))
        codes = sorted(str(c) for c in _dict(operation.get("responses"))
                       if re.fullmatch(r"2(\d\d|XX)", str(c)))
        row = (method.upper(), path, str(operation.get("operationId", "-")),
               codes[0] if codes else "-")
        groups.setdefault(str(tags[0]) if tags else "(untagged)", []).append(row)
    header = ("METHOD", "PATH", "operationId", "SUCCESS")
    rows = [header] + [row for group in groups.values() for row in group]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()

    out: list[str] = []
    for provider, group in groups.items():
        count = f"{len(group)} operation" + ("" if len(group) == 1 else "s")
        out += ["", f"{provider} ({count})", line(header)]
        out += [line(row) for row in group]
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    # A SpecError from loading (malformed YAML, dangling external $ref) propagates to the CLI,
    # which prints its findings in the same form as ours.
    loaded = specload.load(args.path)
    sources = {path: specload.read_file(path) for path in loaded.files if path != loaded.root}
    findings = lint(loaded, sources)
    for finding in findings:
        print(finding.line_text(), file=sys.stderr)
    failing = findings if args.strict else errors(findings)
    if failing:
        return 1
    if not args.quiet:
        warned = len(findings)
        print(f"{loaded.display(loaded.root)}: OK" + (f" ({warned} warning{'s' * (warned != 1)})"
                                                      if warned else ""))
        print(operations_table(loaded.document))
    return 0
