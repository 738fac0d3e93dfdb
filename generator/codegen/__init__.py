"""`numspec generate`: models, clients and server stubs from the contract, byte-reproducible.

Output is a pure function of (contract, templates, generator code, pinned tool versions). A
manifest records a fingerprint of those inputs and a hash of every file written, so `--check` can
say "up to date" without regenerating when nothing changed, and still notices hand edits.

The manifest also marks a folder as numspec's own: `--out` replaces only such a folder (or an
empty or missing one), never a file, the working folder or a folder holding it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from numspec.generator.codegen.ir import Parser, Provider, Skip, UnsupportedSpec
from numspec.generator.specload import Finding, LoadedSpec, load, root_file

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "generated"
# Only a checkout (pyproject.toml beside generated/) regenerates its own generated/ by default:
# in an installed package that folder is the code numspec itself runs.
IN_CHECKOUT = (DEFAULT_OUT.parent / "pyproject.toml").is_file()
MANIFEST = "MANIFEST.json"
# Only tools whose version decides the output bytes, and all pinned in pyproject.toml, so a
# fresh clone computes the same fingerprint. (jinja2 and pydantic only run the templates and
# DCG: the same templates give the same text on any version we allow.)
TOOLS = ("datamodel-code-generator", "black", "isort")
CODEGEN = Path(__file__).resolve().parent
# The loader (bundling, 3.0 upgrade) decides the bytes of openapi.json: inputs too.
CODE_INPUTS = (CODEGEN.parent / "specload.py", CODEGEN.parent / "oas30.py")


def spec_names(loaded: LoadedSpec) -> list[str]:
    """The contract's files, relative to the root file's folder (what the manifest records)."""
    base = loaded.root.parent
    return sorted(Path(os.path.relpath(path, base)).as_posix() for path in loaded.files)


def input_fingerprint(base: Path, names: list[str]) -> str:
    """Hash of everything the output depends on: spec files, generator code, tool versions.

    Works from file bytes alone (no YAML parsing), so `--check` can use it before loading.
    Raises OSError when a recorded spec file is gone.
    """
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + (base / name).read_bytes() + b"\0")
    code = [p for p in sorted(CODEGEN.rglob("*")) if p.is_file() and p.suffix in (".py", ".jinja")]
    for path in [*code, *CODE_INPUTS]:
        rel = path.relative_to(CODEGEN.parent).as_posix()
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    for tool in TOOLS:
        try:
            digest.update(f"{tool}={metadata.version(tool)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{tool}=absent".encode())
    return digest.hexdigest()


@dataclass
class Outcome:
    """What one generation made: the files, and the operations it had to leave out."""

    files: dict[str, str]
    total: int                       # operations in the document (path + method)
    generated: int
    skipped: list[Skip] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)   # one line each, for the CLI


def build(loaded: LoadedSpec, progress: bool = False) -> Outcome:
    """Every output file for the operations the generator can express; the rest skipped."""
    # Imported here: datamodel-code-generator is slow to import and `--check` rarely needs it.
    from numspec.generator.codegen.render import (
        render_provider,
        render_runtime,
        render_shared_models,
    )

    shown = loaded.display(loaded.root)
    parser = Parser(loaded.document)
    providers = parser.providers()
    outcome = Outcome({"openapi.json": loaded.to_json(), "__init__.py": render_runtime("init")},
                      parser.total, 0, parser.skipped)
    outcome.files["runtime.py"] = render_runtime("runtime")
    outcome.files["serving.py"] = render_runtime("serving")
    if any(provider.webhooks for provider in providers):
        outcome.files["receiving.py"] = render_runtime("receiving")
    shared = None
    if shares_schemas(providers):
        try:
            outcome.files["models.py"], shared = render_shared_models(parser, providers)
        except Exception as exc:  # noqa: BLE001 - then each provider on its own, below
            outcome.errors.append(f"{shown}: shared models not generated ({type(exc).__name__}: "
                                  f"{' '.join(str(exc).split())[:300]}); trying per provider")
    for provider in providers:
        if progress:
            print(f"  {provider.prefix}: {len(provider.operations)} operations", file=sys.stderr)
        try:
            rendered, dropped = render_provider(parser, provider, shared)
        except Exception as exc:  # noqa: BLE001 - one provider's failure must not sink the rest
            pointer = getattr(exc, "pointer", "")
            cause = str(exc) if isinstance(exc, UnsupportedSpec) else f"{type(exc).__name__}: {exc}"
            cause = " ".join(cause.split())[:400]
            outcome.errors.append(f"{shown}{' ' + pointer if pointer else ''}: "
                                  f"provider {provider.tag!r} not generated: {cause}")
            outcome.skipped += [Skip(op.method, op.path, op.operation_id,
                                     f"its provider {provider.tag!r} failed", pointer)
                                for op in provider.operations]
            continue
        outcome.skipped += dropped
        if not provider.operations and not provider.webhooks:
            continue
        for name, text in rendered.items():
            outcome.files[f"{provider.package}/{name}"] = text
        outcome.generated += sum(len(op.routes) for op in provider.operations)
    return outcome


def shares_schemas(providers: list[Provider]) -> bool:
    """True when some schema is used by two providers (our contract's two share none)."""
    seen: set[str] = set()
    for provider in providers:
        if seen & provider.schema_names:
            return True
        seen |= provider.schema_names
    return False


def generate_files(loaded: LoadedSpec, progress: bool = False) -> dict[str, str]:
    """Every output file (relative path -> text) for a bundled contract."""
    return build(loaded, progress).files


def manifest_text(fingerprint: str, spec: list[str], files: dict[str, str]) -> str:
    hashes = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())}
    return json.dumps({"inputs": fingerprint, "spec": spec, "files": hashes}, indent=2) + "\n"


def stale_files(out: Path, files: dict[str, str]) -> list[str]:
    """Names of files that differ, are missing, or should not be there (manifest aside)."""
    problems = []
    for name, text in sorted(files.items()):
        target = out / name
        if not target.is_file():
            problems.append(f"missing: {name}")
        elif name != MANIFEST and target.read_bytes() != text.encode():
            problems.append(f"differs: {name}")
    if out.is_dir():
        problems += [f"unexpected: {rel}" for rel in sorted(_on_disk(out) - set(files))]
    return problems


def _on_disk(out: Path) -> set[str]:
    return {path.relative_to(out).as_posix() for path in out.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def fast_check(out: Path, root: Path) -> bool:
    """True when the manifest says these very inputs made exactly the files on disk.

    Costs hashing a few files: no YAML parsing, no rendering. Anything unexpected (another
    spec, an edited or extra file, a different tool version) sends `--check` the slow way.
    """
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        names, hashes = manifest["spec"], manifest["files"]
        if root.name not in names or manifest["inputs"] != input_fingerprint(root.parent, names):
            return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if _on_disk(out) != set(hashes) | {MANIFEST}:
        return False
    for name, digest in hashes.items():
        if hashlib.sha256((out / name).read_bytes()).hexdigest() != digest:
            return False
    return True


class OutputError(Exception):
    """`--out` names a place numspec must not write to; the message says why, in one line."""


def _manifest_files(folder: Path) -> set[str] | None:
    """The files a numspec manifest in `folder` lists, or None when there is no such manifest."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(manifest, dict) or not isinstance(manifest.get("inputs"), str)
            or not isinstance(manifest.get("files"), dict)):
        return None
    return set(manifest["files"])


def check_output(out: Path, spec_files: list[Path], force: bool = False) -> None:
    """Refuse an `--out` whose replacement could lose anything that numspec did not write.

    Allowed: a missing folder in an existing parent, an empty folder, or a previous numspec
    output holding only the files its manifest lists. `force` allows any other folder, but
    never a file, the working folder or one of its parents, a folder holding the contract, or
    a git working tree.
    """
    shown = str(out)
    real = out.resolve()
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise OutputError(f"--out {shown} is the working folder or one of its parents; "
                          "name a folder of its own, e.g. --out generated")
    if any(real in spec.resolve().parents for spec in spec_files):
        raise OutputError(f"--out {shown} holds the contract being read; name another folder")
    if (real / ".git").exists():
        raise OutputError(f"--out {shown} is a git working tree; name a folder inside it")
    if real.exists() and not real.is_dir():
        raise OutputError(f"--out {shown} is a file; numspec generate writes a folder")
    if not real.exists():
        if not real.parent.is_dir():
            raise OutputError(f"--out {shown}: the folder {out.parent} does not exist "
                              "(create it first, or check for a typo)")
        return
    on_disk = _on_disk(real)
    if not on_disk or force:
        return
    listed = _manifest_files(real)
    if listed is None:
        raise OutputError(f"--out {shown} is a folder numspec did not write (no {MANIFEST}); "
                          "generate replaces its whole content: pass --force to allow that")
    foreign = sorted(on_disk - listed - {MANIFEST})
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise OutputError(f"--out {shown} holds files numspec did not write "
                          f"({', '.join(foreign[:3])}{more}); move them or pass --force")


def write_atomically(out: Path, files: dict[str, str]) -> None:
    """Write into a sibling folder, then swap it in: a failure leaves `out` untouched.

    The parent folder must exist (check_output says so first): a typo creates nothing.
    """
    out = out.resolve()  # through a symlink: replace the folder, keep the link
    # Not tempfile.mkdtemp: its 0700 mode would become the mode of `out` after the swap.
    suffix = f"{os.getpid()}-{secrets.token_hex(4)}"
    staging = out.parent / f".{out.name}.new-{suffix}"
    staging.mkdir()
    try:
        for name, text in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(text.encode())
        old = out.parent / f".{out.name}.old-{suffix}"
        if out.exists():
            os.replace(out, old)
        try:
            os.replace(staging, out)
        except BaseException:
            if old.exists():
                os.replace(old, out)  # put the previous output back
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def lint_findings(loaded: LoadedSpec) -> list[Finding]:
    """Lint's quick rules: advice printed by `generate`, never a reason to stop."""
    from numspec.generator.lint import QUICK_RULES, lint

    return lint(loaded, rules=QUICK_RULES)


def report_findings(findings: list[Finding], verbose: bool) -> None:
    errors = [f for f in findings if f.severity == "error"]
    warnings = len(findings) - len(errors)
    shown = findings if verbose else errors[:MAX_SHOWN]
    for finding in shown:
        print(finding.line_text(), file=sys.stderr)
    if len(shown) < len(findings):
        print(f"lint: {len(errors)} error(s), {warnings} warning(s) in the document; "
              "--verbose lists them all, `numspec lint` checks in full", file=sys.stderr)


MAX_SHOWN = 10


def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    verbose = bool(getattr(args, "verbose", False))
    if not args.out and not args.check and not IN_CHECKOUT:
        print("error: --out is required: without it numspec would replace the generated code of "
              "the installed package itself; e.g. --out generated", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else DEFAULT_OUT
    root = root_file(args.spec)
    if args.check and fast_check(out, root):
        print(f"{out}: up to date (inputs unchanged)")
        return 0
    loaded = load(root)
    if not args.check:
        try:  # before the slow part: say at once that --out is refused
            check_output(out, loaded.files, force=getattr(args, "force", False))
        except OutputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    shown = loaded.display(loaded.root)
    try:
        report_findings(lint_findings(loaded), verbose)
        if not args.check:
            print(f"generating into {out} ...", file=sys.stderr)
        outcome = build(loaded, progress=verbose and not args.check)
    except RecursionError:
        print(f"error: {shown}: the document nests too deeply to generate from", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - never a traceback: one line naming the cause
        print(f"error: {shown}: generation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for line in outcome.errors:
        print(f"error: {line}", file=sys.stderr)
    for skip in outcome.skipped:
        print(skip, file=sys.stderr)
    print(f"{outcome.generated} of {outcome.total} operations generated"
          + (f", {outcome.total - outcome.generated} skipped" if outcome.skipped else ""),
          file=sys.stderr)
    if outcome.total and not outcome.generated:
        print(f"error: {shown}: no operation could be generated; nothing written", file=sys.stderr)
        return 1
    if outcome.skipped and getattr(args, "fail_on_skip", False):
        print("error: operations were skipped and --fail-on-skip was given; nothing written",
              file=sys.stderr)
        return 1
    files = outcome.files
    names = spec_names(loaded)
    files[MANIFEST] = manifest_text(input_fingerprint(loaded.root.parent, names), names, files)
    if args.check:
        problems = stale_files(out, files)
        if problems:
            print(f"{out} is stale; run `numspec generate`:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            return 1
        print(f"{out}: up to date (regenerated and compared; manifest is stale)")
        return 0
    write_atomically(out, files)
    elapsed = time.perf_counter() - started
    print(f"wrote {len(files)} files into {out} in {elapsed:.1f}s")
    return 0
