"""numspec as an installed tool: it never loses a file, its manifest does not depend on the
machine, its help is complete and a broken contract is reported once, in words a user can act
on. Every test runs the real CLI in a subprocess."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from numspec.generator import cli
from numspec.generator.codegen import MANIFEST, input_fingerprint

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "spec"
PETSTORE = ROOT / "tests" / "fixtures" / "thirdparty" / "petstore.yaml"


def numspec(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numspec.generator.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused_in_one_line(result: subprocess.CompletedProcess[str], words: str,
                        code: int = 1) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


# -- generate --out: nothing lost ------------------------------------------------------------------

@pytest.fixture
def place(tmp_path: Path) -> Path:
    """A working folder with a file, a folder of someone else's and a nested working folder."""
    (tmp_path / "notes.txt").write_text("keep me\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work\n")
    (tmp_path / "work" / "deeper").mkdir(parents=True)
    return tmp_path


@pytest.mark.parametrize(("out", "cwd", "words"), [
    (".", "work/deeper", "is the working folder or one of its parents"),
    ("..", "work/deeper", "is the working folder or one of its parents"),
    ("../..", "work/deeper", "is the working folder or one of its parents"),
    ("notes.txt", ".", "is a file; numspec generate writes a folder"),
    ("mine", ".", "is a folder numspec did not write (no MANIFEST.json)"),
    ("typo/generated", ".", "the folder typo does not exist"),
])
def test_generate_refuses_an_output_that_would_lose_something(place: Path, out: str, cwd: str,
                                                              words: str) -> None:
    before = snapshot(place)
    result = numspec("generate", "--spec", PETSTORE, "--out", out, cwd=place / cwd)
    refused_in_one_line(result, words)
    assert snapshot(place) == before
    assert sorted(p.name for p in place.iterdir()) == ["mine", "notes.txt", "work"]


def test_force_does_not_allow_the_working_folder_the_contract_or_a_repository(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    shutil.copytree(SPEC, spec)
    before = snapshot(tmp_path)
    refused_in_one_line(numspec("generate", "--out", ".", "--force", cwd=tmp_path),
                        "is the working folder")
    refused_in_one_line(numspec("generate", "--spec", spec, "--out", spec, "--force"),
                        "holds the contract being read")
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    before = snapshot(tmp_path)
    refused_in_one_line(numspec("generate", "--out", tmp_path / "repo", "--force"),
                        "is a git working tree")
    assert snapshot(tmp_path) == before


def test_an_earlier_output_is_replaced_but_not_with_a_stranger_in_it(tmp_path: Path) -> None:
    out = tmp_path / "client"
    out.mkdir()  # an empty folder: nothing to lose
    assert numspec("generate", "--spec", PETSTORE, "--out", out).returncode == 0
    assert numspec("generate", "--spec", PETSTORE, "--out", out).returncode == 0  # ours: replaced
    (out / "my_helpers.py").write_text("def mine(): ...\n")
    before = snapshot(out)
    refused_in_one_line(numspec("generate", "--spec", PETSTORE, "--out", out),
                        "holds files numspec did not write (my_helpers.py)")
    assert snapshot(out) == before
    forced = numspec("generate", "--spec", PETSTORE, "--out", out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (out / "my_helpers.py").exists() and (out / MANIFEST).is_file()


def test_force_replaces_a_foreign_folder(place: Path) -> None:
    result = numspec("generate", "--spec", PETSTORE, "--out", "mine", "--force", cwd=place)
    assert result.returncode == 0, result.stderr
    assert (place / "mine" / MANIFEST).is_file() and not (place / "mine" / "thesis.tex").exists()


@pytest.mark.parametrize("args", [
    ("docs", "build", "--out", "typo/docs.html"),
    ("contract", "--provider", "freeclimb", "--url", "http://127.0.0.1:9", "--auth", "a:b",
     "--junit", "typo/report.xml"),
])
def test_output_files_need_an_existing_folder(tmp_path: Path, args: tuple[str, ...]) -> None:
    refused_in_one_line(numspec(*args, cwd=tmp_path), "the folder typo does not exist", code=2)
    assert list(tmp_path.iterdir()) == []


def test_serve_db_needs_an_existing_folder(tmp_path: Path) -> None:
    result = numspec("serve", "--port", "0", "--db", "typo/numspec.db", cwd=tmp_path)
    refused_in_one_line(result, "--db typo/numspec.db: the folder typo does not exist")
    assert list(tmp_path.iterdir()) == []


# -- the manifest depends only on what decides the bytes ----------------------------------------------

def test_a_fresh_clone_elsewhere_is_up_to_date_without_regenerating(tmp_path: Path) -> None:
    """The committed spec and generated/ copied to another path (as a clone would be): the
    manifest's fast path must accept them, whatever pydantic or jinja2 is installed."""
    clone = tmp_path / "elsewhere" / "numspec"
    for folder in ("spec", "generated"):
        shutil.copytree(ROOT / folder, clone / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    result = numspec("generate", "--check", "--spec", clone / "spec", "--out", clone / "generated",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "up to date (inputs unchanged)" in result.stdout, result.stdout


def test_the_fingerprint_ignores_unpinned_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    names = json.loads((ROOT / "generated" / MANIFEST).read_text())["spec"]
    before = input_fingerprint(SPEC, names)
    real = metadata.version
    monkeypatch.setattr(metadata, "version",
                        lambda name: "99.0" if name in ("pydantic", "jinja2") else real(name))
    assert input_fingerprint(SPEC, names) == before
    monkeypatch.setattr(metadata, "version",
                        lambda name: "99.0" if name == "black" else real(name))
    assert input_fingerprint(SPEC, names) != before  # a pinned formatter does decide the bytes


def test_the_manifest_is_the_same_for_any_output_folder(tmp_path: Path) -> None:
    one, two = tmp_path / "a", tmp_path / "deep" / "b"
    two.parent.mkdir()
    for out in (one, two):
        assert numspec("generate", "--spec", PETSTORE, "--out", out).returncode == 0
    digest = [hashlib.sha256((out / MANIFEST).read_bytes()).hexdigest() for out in (one, two)]
    assert digest[0] == digest[1]


# -- help ---------------------------------------------------------------------------------------------

def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_help_shows_defaults_exit_status_and_an_example(command: str) -> None:
    result = subprocess.run([sys.executable, "-m", "numspec.generator.cli", command, "--help"],
                            env={**os.environ, "COLUMNS": "1000"},  # no wrapping
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    text = result.stdout
    assert "exit status: 0" in text and "example:" in text
    assert f"numspec {command} " in text.split("example:")[1]
    for action in subcommands()[command]._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            lines = text.splitlines()
            at = next(i for i, line in enumerate(lines)
                      if line.strip().startswith(action.option_strings[0]))
            line = " ".join(lines[at:at + 2])  # a long option's help starts on the next line
            assert "default" in line, f"{command}: no default shown in {line.strip()!r}"


def test_a_bad_option_is_one_line() -> None:
    refused_in_one_line(numspec("serve", "--port", "99999"), "99999 is not a port number", code=2)


# -- contract errors said once, in the user's terms -------------------------------------------------

def test_a_yaml_error_is_reported_once_not_once_per_reference(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    shutil.copytree(SPEC, spec)
    other = spec / "freeclimb.yaml"
    lines = other.read_text().splitlines()
    lines[10] += " : : ["
    other.write_text("\n".join(lines) + "\n")
    references = (spec / "openapi.yaml").read_text().count("freeclimb.yaml")
    assert references > 1  # the point: the file is referenced many times
    for command in (("lint", spec), ("generate", "--spec", spec, "--check"),
                    ("docs", "build", "--spec", spec, "--out", tmp_path / "d.html")):
        refused_in_one_line(numspec(*command), "freeclimb.yaml:11:")
        assert not (tmp_path / "d.html").exists()


def test_swagger_2_is_named_not_schema_errors(tmp_path: Path) -> None:
    swagger = tmp_path / "petstore-v2.yaml"
    swagger.write_text('swagger: "2.0"\ninfo: {title: Pets, version: "1"}\n'
                       'paths: {/pets: {get: {responses: {"200": {description: ok}}}}}\n')
    for command in (("lint", swagger), ("generate", "--spec", swagger, "--out", tmp_path / "g")):
        refused_in_one_line(numspec(*command),
                            "Swagger 2.0 is not supported; convert it to OpenAPI 3 first")
    assert not (tmp_path / "g").exists()
