"""The one place that reads a contract from disk.

A contract is a root OpenAPI document (YAML or JSON) that may `$ref` other files beside it.
`load()` reads every file it needs, reports malformed ones by line and column, and bundles
everything into one self-contained document: components referenced from other files are
hoisted into the root's `components`, everything else referenced from another file is
inlined. Every other part of numspec receives the result and never opens spec files itself.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from numspec.generator import oas30

DEFAULT_SPEC = Path(__file__).resolve().parent.parent / "spec" / "openapi.yaml"

# The operation keys of a path item, in the order OpenAPI lists them.
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Component sections an external reference may point into; such targets are hoisted.
COMPONENT_SECTIONS = (
    "schemas", "responses", "parameters", "examples", "requestBodies",
    "headers", "securitySchemes", "links", "callbacks", "pathItems",
)


@dataclass(frozen=True)
class Finding:
    """One problem in a contract, located by file and JSON pointer (and line when known).

    An "error" makes the document unsound (not valid OpenAPI, a dangling $ref); a "warning"
    is advice (style, completeness) that `numspec lint --strict` enforces for our own contract.
    """

    file: str
    pointer: str
    message: str
    line: int | None = None
    column: int | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        if self.pointer:
            where += f" {self.pointer}"
        return f"{where}: {self.message}"

    def line_text(self) -> str:
        """The finding as the CLI prints it: severity first."""
        return f"{self.severity}: {self}"


class SpecError(Exception):
    """The contract cannot be read or bundled; carries the findings that say why."""

    def __init__(self, findings: list[Finding]):
        self.findings = findings
        super().__init__("\n".join(str(f) for f in findings))


@dataclass
class LoadedSpec:
    """A bundled contract plus where each part of it came from."""

    root: Path
    document: dict[str, Any]
    # bundled-document pointer -> (file, pointer inside that file), for precise findings
    origins: dict[str, tuple[str, str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def locate(self, pointer: str) -> tuple[str, str]:
        """Map a pointer in the bundled document back to (file, pointer) in the sources."""
        best = ""
        for prefix in self.origins:
            if (pointer == prefix or pointer.startswith(prefix + "/")) and len(prefix) > len(best):
                best = prefix
        if not best:
            return self.display(self.root), pointer
        file, inner = self.origins[best]
        return file, inner + pointer[len(best):]

    def display(self, path: Path) -> str:
        return _display(path)

    def to_json(self) -> str:
        """The bundled document as stable, pretty JSON (what generated/openapi.json holds)."""
        return json.dumps(self.document, indent=2, ensure_ascii=False) + "\n"


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pointer_join(pointer: str, *tokens: object) -> str:
    return pointer + "".join("/" + escape(str(t)) for t in tokens)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """Follow a JSON pointer ('' or '/a/b') inside a document; KeyError when it dangles."""
    node = document
    if pointer in ("", "/"):
        return node
    for raw in pointer.lstrip("/").split("/"):
        token = unescape(unquote(raw))
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(pointer)
    return node


def read_file(path: Path) -> Any:
    """Parse one YAML or JSON file; a syntax error becomes a Finding with line and column."""
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Finding(shown, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([Finding(shown, "", f"cannot read file: {exc}")]) from None
    data = _read_json(text) if text.lstrip().startswith("{") else _NOT_JSON
    if data is _NOT_JSON:
        data = _read_yaml(text, shown)
    if not isinstance(data, dict):
        raise SpecError([Finding(shown, "", "the document must be a mapping at the top level")])
    return data


_NOT_JSON = object()


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _read_json(text: str) -> Any:
    """JSON through the json module: a pure-Python YAML parser takes ~20 s on GitHub's 10 MB
    document. Anything else (not strict JSON, a duplicate key) goes to the YAML reader, which
    accepts JSON's flow style or reports the problem with its line and column."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except ValueError:
        return _NOT_JSON


def _read_yaml(text: str, shown: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        raise SpecError([Finding(shown, "", f"malformed YAML: {problem}", line, column)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Finding(shown, "", f"malformed YAML: {exc}")]) from None


def root_file(path: str | Path | None = None) -> Path:
    """The absolute root file a `--spec` argument names (a folder means its openapi.yaml)."""
    root = Path(path) if path is not None else DEFAULT_SPEC
    if root.is_dir():
        root = root / "openapi.yaml"
    return root.resolve()


def load(path: str | Path | None = None) -> LoadedSpec:
    """Read and bundle the contract whose root file is `path` (default: the project's spec).

    An OpenAPI 3.0 document is rewritten as 3.1 (see `numspec.generator.oas30`), so the tools that
    receive it handle one dialect.
    """
    loaded = _Bundler(root_file(path)).run()
    oas30.upgrade(loaded.document)
    return loaded


# libyaml's parser when PyYAML has it (its wheels do): ten times faster than the pure-Python
# one on our contract, and the constructor and resolver below are the same Python code.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that refuses duplicate keys (YAML silently keeps the last one)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Keep dates as the strings the author wrote: OpenAPI has no date type.
_UniqueKeyLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Bundler:
    def __init__(self, root: Path):
        self.root = root
        self.cache: dict[Path, Any] = {}
        self.unreadable: set[Path] = set()  # reported once, however many refs point there
        self.findings: list[Finding] = []
        self.hoisted: dict[tuple[str, str], dict[str, Any]] = {}
        self.hoisted_from: dict[tuple[str, str], str] = {}
        self.origins: dict[str, tuple[str, str]] = {}

    def doc(self, path: Path) -> Any:
        if path in self.unreadable:
            raise SpecError([])
        if path not in self.cache:
            try:
                self.cache[path] = read_file(path)
            except SpecError:
                self.unreadable.add(path)
                raise
        return self.cache[path]

    def run(self) -> LoadedSpec:
        # walk() builds new containers throughout, so the cached parse stays untouched.
        document = self.doc(self.root)
        if "swagger" in document and "openapi" not in document:
            raise SpecError([Finding(_display(self.root), "", (
                f"Swagger {document['swagger']} is not supported; convert it to OpenAPI 3 first"))])
        self.origins[""] = (_display(self.root), "")
        bundled = self.walk(document, self.root, "", "", inlining=())
        components = bundled.setdefault("components", {}) if isinstance(bundled, dict) else {}
        for (section, name), value in sorted(self.hoisted.items()):
            existing = components.setdefault(section, {}).get(name)
            if existing is not None and existing != value:
                self.findings.append(Finding(
                    _display(self.root), pointer_join("/components", section, name),
                    "two different components would share this name after bundling"))
            components[section][name] = value
        if self.findings:
            raise SpecError(self.findings)
        return LoadedSpec(self.root, bundled, self.origins, sorted(self.cache))

    def walk(self, node: Any, file: Path, src_ptr: str, out_ptr: str,
             inlining: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [self.walk(v, file, f"{src_ptr}/{i}", f"{out_ptr}/{i}", inlining)
                    for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return self.external(node, ref, file, src_ptr, out_ptr, inlining)
        if isinstance(ref, str) and file != self.root:
            # An internal ref inside another file points into that file: make it external.
            node = dict(node, **{"$ref": f"{file.name}{ref}"})
            return self.external(node, node["$ref"], file, src_ptr, out_ptr, inlining)
        out = {}
        for key, value in node.items():
            out[key] = self.walk(value, file, pointer_join(src_ptr, key),
                                 pointer_join(out_ptr, key), inlining)
        return out

    def external(self, node: dict[str, Any], ref: str, file: Path, src_ptr: str, out_ptr: str,
                 inlining: tuple[str, ...]) -> Any:
        target_name, _, fragment = ref.partition("#")
        target = (file.parent / target_name).resolve() if target_name else file
        here = (_display(file), pointer_join(src_ptr, "$ref"))
        try:
            target_doc = self.doc(target)
            value = resolve_pointer(target_doc, fragment)
        except SpecError as exc:
            self.findings.extend(exc.findings)
            return node
        except KeyError:
            self.findings.append(Finding(here[0], here[1], f"dangling $ref {ref!r}"))
            return node
        tokens = [unescape(t) for t in fragment.lstrip("/").split("/")] if fragment else []
        key = f"{target}#{fragment}"
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        # A component section in the target file: hoist it into the root's components.
        section = tokens[-2] if len(tokens) >= 2 else None
        if section in COMPONENT_SECTIONS and key not in inlining:
            name = tokens[-1]
            first = self.hoisted_from.setdefault((section, name), key)
            if first != key:
                self.findings.append(Finding(here[0], here[1], (
                    f"components.{section}.{name} is defined in two files "
                    f"({first.split('#')[0]} and {target}); rename one")))
                return node
            if (section, name) not in self.hoisted:
                self.hoisted[(section, name)] = {}
                comp_ptr = pointer_join("/components", section, name)
                self.origins[comp_ptr] = (_display(target), fragment)
                self.hoisted[(section, name)] = self.walk(
                    copy.deepcopy(value), target, fragment, comp_ptr, inlining + (key,))
            return {"$ref": f"#/components/{section}/{escape(name)}", **siblings}
        if key in inlining:
            self.findings.append(Finding(here[0], here[1], f"circular $ref {ref!r} cannot be inlined"))
            return node
        self.origins[out_ptr] = (_display(target), fragment)
        inlined = self.walk(copy.deepcopy(value), target, fragment, out_ptr, inlining + (key,))
        if isinstance(inlined, dict):
            return {**inlined, **siblings}
        return inlined
