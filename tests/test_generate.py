"""`numspec generate`: reproducible, checkable, atomic, and its output is clean typed Python.

The command is run as users run it (the installed console script, in a subprocess), on the
project's contract or on copies of it with one planted change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from numspec.generator.codegen import write_atomically

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec"
GENERATED = ROOT / "generated"
PETSTORE = ROOT / "tests" / "fixtures" / "thirdparty" / "petstore.yaml"
BIN = Path(sys.executable).parent
NUMSPEC = BIN / "numspec"
# Imported by the generator, never by what it writes.
BUILD_TIME_ONLY = ("numspec", "generator", "datamodel_code_generator", "jinja2", "black", "isort", "yaml",
                   "emulator", "tests", "mypy", "pytest", "schemathesis")


def numspec(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run(NUMSPEC, *args, cwd=cwd)


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=False, cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (caches aside) by relative path."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def copy_generated(tmp_path: Path) -> Path:
    out = tmp_path / "generated_copy"
    shutil.copytree(GENERATED, out, ignore=shutil.ignore_patterns("__pycache__"))
    return out


@pytest.fixture(scope="module")
def fresh_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full generation into an empty folder with a name other than `generated`."""
    out = tmp_path_factory.mktemp("fresh") / "gen_out"
    result = numspec("generate", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


# --------------------------------------------------------------------------- determinism


def test_two_runs_into_empty_folders_are_byte_identical(fresh_output: Path,
                                                        tmp_path: Path) -> None:
    again = tmp_path / "again"
    result = numspec("generate", "--out", again)
    assert result.returncode == 0, result.stderr
    first, second = snapshot(fresh_output), snapshot(again)
    assert sorted(first) == sorted(second)
    assert {"openapi.json", "runtime.py", "MANIFEST.json", "freeclimb/models.py",
            "freeclimb/client.py", "freeclimb/server.py", "restcomm/models.py",
            "restcomm/client.py", "restcomm/server.py", "restcomm/wire.py"} <= set(first)
    for name in first:
        assert first[name] == second[name], f"{name} differs between two runs"


# --------------------------------------------------------------------------- --check


def test_check_passes_on_the_committed_output() -> None:
    result = numspec("generate", "--check")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_check_passes_without_regenerating_when_nothing_changed(fresh_output: Path,
                                                                tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(fresh_output, copy)
    before = snapshot(copy)
    result = numspec("generate", "--check", "--out", copy)
    assert result.returncode == 0, result.stderr
    assert "inputs unchanged" in result.stdout  # the manifest fast path, not a re-render
    assert snapshot(copy) == before


def test_check_fails_on_a_hand_edit(tmp_path: Path) -> None:
    copy = copy_generated(tmp_path)
    client = copy / "freeclimb" / "client.py"
    client.write_text(client.read_text() + "\n# a quick local fix\n")
    before = snapshot(copy)
    result = numspec("generate", "--check", "--out", copy)
    assert result.returncode == 1
    assert "differs: freeclimb/client.py" in result.stderr
    assert "restcomm/client.py" not in result.stderr  # only what differs is listed
    assert snapshot(copy) == before  # --check writes nothing


def test_check_fails_on_missing_and_unexpected_files(tmp_path: Path) -> None:
    copy = copy_generated(tmp_path)
    (copy / "restcomm" / "wire.py").unlink()
    (copy / "freeclimb" / "notes.py").write_text("x = 1\n")
    result = numspec("generate", "--check", "--out", copy)
    assert result.returncode == 1
    assert "missing: restcomm/wire.py" in result.stderr
    assert "unexpected: freeclimb/notes.py" in result.stderr


def plant_description_change(spec: Path) -> None:
    root = spec / "openapi.yaml"
    text = root.read_text()
    # The first block description: add a line with the block's own indentation.
    changed = re.sub(r"(description: [|>]-?\n)( +)", r"\1\2Changed by test_generate.\n\2",
                     text, count=1)
    assert changed != text
    root.write_text(changed)


def test_check_fails_when_the_spec_changes(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    shutil.copytree(SPEC, spec)
    copy = copy_generated(tmp_path)
    # Same inputs, other folder: still up to date.
    assert numspec("generate", "--check", "--spec", spec, "--out", copy).returncode == 0
    plant_description_change(spec)
    result = numspec("generate", "--check", "--spec", spec, "--out", copy)
    assert result.returncode == 1
    assert "is stale" in result.stderr and "differs: openapi.json" in result.stderr


# --------------------------------------------------------------------------- refusal, atomicity


def refused(spec: Path, out: Path) -> subprocess.CompletedProcess[str]:
    before = snapshot(out)
    result = numspec("generate", "--spec", spec, "--out", out)
    assert result.returncode == 1
    assert snapshot(out) == before, "a refused run must leave the output folder untouched"
    assert not list(out.parent.glob(f".{out.name}.*")), "staging folders left behind"
    return result


def test_refuses_a_dangling_ref_and_leaves_output_untouched(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    shutil.copytree(SPEC, spec)
    root = spec / "openapi.yaml"
    text = root.read_text()
    planted = re.sub(r"(\$ref: [a-z]+\.yaml#/paths/[^\s]+)", r"\1Missing", text, count=1)
    assert planted != text
    root.write_text(planted)
    result = refused(spec, copy_generated(tmp_path))
    assert "error:" in result.stderr and "Missing" in result.stderr


def test_a_bad_example_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    spec = tmp_path / "petstore.yaml"
    text = PETSTORE.read_text()
    planted = text.replace("example: Rex", "example: 42")
    assert planted != text
    spec.write_text(planted)
    result = numspec("generate", "--spec", spec, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "0 error(s), 1 warning(s)" in result.stderr
    assert "/components/schemas/NewPet/properties/name/example" not in result.stderr
    verbose = numspec("generate", "--verbose", "--spec", spec, "--out", tmp_path / "out2")
    assert verbose.returncode == 0
    assert re.search(r"^warning: .*petstore.yaml /components/schemas/NewPet/properties/name/example: "
                     r"example does not match", verbose.stderr, re.MULTILINE), verbose.stderr


def plant_dangling_ref(tmp_path: Path) -> Path:
    """The pet store with POST /pets's answer (the second use of Pet) pointing nowhere."""
    spec = tmp_path / "petstore.yaml"
    old = '$ref: "#/components/schemas/Pet"'
    parts = PETSTORE.read_text().split(old)
    spec.write_text(parts[0] + old + parts[1] + '$ref: "#/components/schemas/Missing"'
                    + old.join(parts[2:]))
    return spec


def test_skips_what_it_cannot_express_and_generates_the_rest(tmp_path: Path) -> None:
    spec = plant_dangling_ref(tmp_path)
    out = tmp_path / "out"
    result = numspec("generate", "--spec", spec, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    expected = "skipped POST /pets (createPet): dangling $ref '#/components/schemas/Missing'"
    assert skipped == [expected], result.stderr
    assert re.search(r"^(\d+) of (\d+) operations generated, 1 skipped$", result.stderr, re.MULTILINE)
    client = (out / "pets" / "client.py").read_text()
    assert "def list_pets(" in client and "def create_pet(" not in client
    # The lint error is printed too, as advice: it explains the skip.
    assert "error: " in result.stderr and "dangling $ref" in result.stderr


def test_fail_on_skip_refuses_and_writes_nothing(tmp_path: Path) -> None:
    spec = plant_dangling_ref(tmp_path)
    out = tmp_path / "out"
    assert numspec("generate", "--spec", PETSTORE, "--out", out).returncode == 0
    before = snapshot(out)
    result = numspec("generate", "--fail-on-skip", "--spec", spec, "--out", out)
    assert result.returncode == 1
    assert "skipped POST /pets (createPet)" in result.stderr and "--fail-on-skip" in result.stderr
    assert snapshot(out) == before


def test_refuses_when_nothing_can_be_generated(tmp_path: Path) -> None:
    spec = tmp_path / "petstore.yaml"
    # Every operation's path parameter, body or answer refers to a schema that is not there.
    text = re.sub(r'"#/components/schemas/\w+"', '"#/components/schemas/Missing"',
                  PETSTORE.read_text())
    text = text.replace('"#/components/responses/BadRequest"', '"#/components/responses/Gone"')
    spec.write_text(text)
    out = tmp_path / "out"
    assert numspec("generate", "--spec", PETSTORE, "--out", out).returncode == 0
    result = refused(spec, out)
    assert "no operation could be generated" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failed_write_leaves_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_atomically(out, {"a.py": "old = 1\n"})
    before = snapshot(out)
    # "x" is a file and a folder at once: the write fails part-way through the staging.
    with pytest.raises(OSError):
        write_atomically(out, {"b.py": "new = 1\n", "x": "", "x/c.py": ""})
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# --------------------------------------------------------------------------- output quality


def test_output_passes_ruff_and_mypy_strict(fresh_output: Path) -> None:
    ruff = run(BIN / "ruff", "check", "--no-cache", "--config", ROOT / "pyproject.toml",
               fresh_output)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = run(BIN / "mypy", "--strict", "--no-incremental", fresh_output.name,
               cwd=fresh_output.parent)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


def generated_modules(out: Path) -> Iterator[str]:
    for path in sorted(out.rglob("*.py")):
        parts = path.relative_to(out.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


IMPORT_CHECK = """
import importlib, importlib.abc, sys
blocked = set(sys.argv[2].split(","))
class BuildTimeOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError("imported a build-time module: " + name)
        return None
sys.meta_path.insert(0, BuildTimeOnly())
sys.path.insert(0, sys.argv[1])
for name in sys.argv[3:]:
    importlib.import_module(name)
print(len(sys.argv[3:]))
"""


def test_output_imports_with_only_runtime_dependencies(fresh_output: Path) -> None:
    modules = list(generated_modules(fresh_output))
    assert "gen_out.freeclimb.server" in modules and "gen_out.restcomm.client" in modules
    # -I: no project folder or PYTHONPATH on sys.path, only the output's parent.
    result = run(sys.executable, "-I", "-c", IMPORT_CHECK, fresh_output.parent,
                 ",".join(BUILD_TIME_ONLY), *modules, cwd=fresh_output.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(modules))
