"""`numspec generate`: models, clients and server stubs from the contract, byte-reproducible.

Output is a pure function of (contract, templates, generator code, tool versions). A manifest
records a fingerprint of those inputs and a hash of every file written, so `--check` can say
"up to date" without regenerating when nothing changed, and still notices hand edits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from generator.codegen.ir import Parser, UnsupportedSpec
from generator.codegen.render import render_provider, render_runtime
from generator.specload import Finding, LoadedSpec, SpecError, load

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "generated"
MANIFEST = "MANIFEST.json"
TOOLS = ("datamodel-code-generator", "black", "isort", "pydantic", "jinja2")


def input_fingerprint(loaded: LoadedSpec) -> str:
    """Hash of everything the output depends on."""
    digest = hashlib.sha256()
    for path in loaded.files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    here = Path(__file__).resolve().parent
    for path in sorted(here.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".jinja"):
            digest.update(str(path.relative_to(here)).encode() + b"\0" + path.read_bytes())
    for tool in TOOLS:
        try:
            digest.update(f"{tool}={metadata.version(tool)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{tool}=absent".encode())
    return digest.hexdigest()


def generate_files(loaded: LoadedSpec, progress: bool = False) -> dict[str, str]:
    """Every output file (relative path -> text) for a sound, bundled contract."""
    parser = Parser(loaded.document)
    try:
        providers = parser.providers()
    except UnsupportedSpec as exc:
        raise SpecError([Finding(loaded.display(loaded.root), "", str(exc))]) from None
    files = {"openapi.json": loaded.to_json(), "__init__.py": render_runtime("init")}
    files["runtime.py"] = render_runtime("runtime")
    for provider in providers:
        if progress:
            print(f"  {provider.prefix}: {len(provider.operations)} operations", file=sys.stderr)
        for name, text in render_provider(parser, provider).items():
            files[f"{provider.package}/{name}"] = text
    return files


def manifest_text(fingerprint: str, files: dict[str, str]) -> str:
    hashes = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(files.items())}
    return json.dumps({"inputs": fingerprint, "files": hashes}, indent=2) + "\n"


def stale_files(out: Path, files: dict[str, str]) -> list[str]:
    """Names of files that differ, are missing, or should not be there (manifest aside)."""
    problems = []
    for name, text in sorted(files.items()):
        target = out / name
        if not target.is_file():
            problems.append(f"missing: {name}")
        elif name != MANIFEST and target.read_text(encoding="utf-8") != text:
            problems.append(f"differs: {name}")
    expected = set(files)
    if out.is_dir():
        for path in sorted(out.rglob("*")):
            rel = path.relative_to(out).as_posix()
            if path.is_file() and "__pycache__" not in rel and rel not in expected:
                problems.append(f"unexpected: {rel}")
    return problems


def fast_check(out: Path, fingerprint: str) -> bool:
    """True when the manifest says these inputs made exactly the files on disk."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("inputs") != fingerprint:
        return False
    for name, digest in manifest.get("files", {}).items():
        path = out / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return False
    return True


def write_atomically(out: Path, files: dict[str, str]) -> None:
    """Write into a sibling folder, then swap it in: a failure leaves `out` untouched."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for name, text in files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def refuse_unsound(loaded: LoadedSpec) -> None:
    from generator.lint import lint

    findings = lint(loaded)
    if findings:
        raise SpecError(findings)


def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out) if args.out else DEFAULT_OUT
    loaded = load(args.spec)
    fingerprint = input_fingerprint(loaded)
    if args.check and fast_check(out, fingerprint):
        print(f"{out}: up to date (inputs unchanged)")
        return 0
    refuse_unsound(loaded)
    if not args.check:
        print(f"generating into {out} ...", file=sys.stderr)
    files = generate_files(loaded, progress=not args.check)
    files[MANIFEST] = manifest_text(fingerprint, files)
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
