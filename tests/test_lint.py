"""`numspec lint` on real files: the project's contract is clean, and each rule fires on a copy
of a small valid fixture with one planted defect, naming the file and pointer to fix."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from numspec.generator import cli, specload
from numspec.generator.lint import lint

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lint"
THING_GET = "/paths/~1things~1{thingId}/get"
WIDGET_POST = "/paths/~1widgets/post"


@pytest.fixture(autouse=True)
def _from_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    # Findings show paths relative to the working directory when they can; from the repo,
    # the temporary copies below show as absolute paths, which the assertions expect.
    monkeypatch.chdir(REPO)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """A fresh copy of the two-file fixture contract."""
    dest = tmp_path / "spec"
    shutil.copytree(FIXTURE, dest)
    return dest


def plant(spec: Path, file: str, old: str, new: str) -> None:
    """Replace one exact, unique piece of a fixture file (keeps every other line as it was)."""
    path = spec / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def run_lint(spec: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = cli.main(["lint", str(spec / "openapi.yaml"), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_finding(err: str, file: Path, pointer: str, *words: str,
                   severity: str = "error") -> None:
    prefix = f"{severity}: {file} {pointer}: "
    lines = [line for line in err.splitlines() if line.startswith(prefix)]
    assert lines, f"no finding at {file} {pointer}; got:\n{err}"
    assert any(all(w in line for w in words) for line in lines), f"{words} not in {lines}"


# --- clean contracts -------------------------------------------------------------------------


def test_real_spec_lints_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["lint", str(REPO / "spec")])
    captured = capsys.readouterr()
    assert captured.err == ""
    assert code == 0
    assert "openapi.yaml: OK" in captured.out
    assert "freeclimb (" in captured.out and "restcomm (" in captured.out


def test_fixture_is_clean_and_tabulated(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(specload.load(spec)) == []
    code, out, err = run_lint(spec, capsys)
    assert (code, err) == (0, "")
    assert out.startswith(f"{spec / 'openapi.yaml'}: OK\n")
    table = [line.split() for line in out.splitlines()]
    assert ["freeclimb", "(1", "operation)"] in table
    assert ["restcomm", "(1", "operation)"] in table
    assert ["METHOD", "PATH", "operationId", "SUCCESS"] in table
    assert ["GET", "/things/{thingId}", "get-thing", "200"] in table
    assert ["POST", "/widgets", "create-widget", "200"] in table
    # the restcomm row is listed under the restcomm heading
    assert table.index(["POST", "/widgets", "create-widget", "200"]) > table.index(
        ["restcomm", "(1", "operation)"])


def test_quiet_prints_nothing_on_success(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_lint(spec, capsys, "--quiet") == (0, "", "")


def run_warned(spec: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A warning is advice: lint passes, and fails only with --strict; both print it."""
    code, out, err = run_lint(spec, capsys)
    assert code == 0 and "OK (" in out and "warning" in out, out + err
    assert "error:" not in err
    strict_code, _, strict_err = run_lint(spec, capsys, "--strict")
    assert strict_code == 1 and strict_err == err
    return err


# --- a. openapi-spec-validator ---------------------------------------------------------------


def test_openapi_validator_missing_description(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "          description: One thing.\n", "")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "openapi.yaml", f"{THING_GET}/responses/200", "description")


def test_openapi_validator_bad_schema_type(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "id: {type: string}", "id: {type: strin}")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "openapi.yaml", "/components/schemas/Thing/properties/id/type",
                   "strin")


def test_openapi_validator_unresolved_path_parameter(
        spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "    parameters:\n      - $ref: '#/components/parameters/ThingId'\n",
          "")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "openapi.yaml", THING_GET, "thingId", "not resolved")


# --- b. examples and defaults ----------------------------------------------------------------

EXAMPLE_DEFECTS = {
    "media-type example": (
        "openapi.yaml", "example: {id: T1, size: 3}", "example: {id: T1, size: -3}",
        f"{THING_GET}/responses/200/content/application~1json/example/size", "minimum"),
    "parameter example": (
        "openapi.yaml", "example: blue", "example: green",
        f"{THING_GET}/parameters/0/example", "green"),
    "component parameter example": (
        "openapi.yaml", "example: T1", "example: X1",
        "/components/parameters/ThingId/example", "does not match"),
    "parameter schema default": (
        "openapi.yaml", "default: red}", "default: pink}",
        f"{THING_GET}/parameters/0/schema/default", "pink"),
    "schema default": (
        "openapi.yaml", "default: 1}", "default: one}",
        "/components/schemas/Thing/properties/size/default", "integer"),
    "schema example with format": (
        "openapi.yaml", "example: '2024-01-02T03:04:05Z'", "example: 'last Tuesday'",
        "/components/schemas/Thing/properties/seen/example", "date-time"),
    "examples value in the second file": (
        "widgets.yaml", "value: {Name: w1}", "value: {Name: much-too-long}",
        "/components/examples/SmallWidget/value/Name", "too long"),
    "xml example in the second file": (
        "widgets.yaml", "example: {name: w1, colour: red}", "example: {colour: red}",
        f"{WIDGET_POST}/responses/200/content/application~1xml/example", "'name'"),
}


@pytest.mark.parametrize("case", EXAMPLE_DEFECTS.values(), ids=EXAMPLE_DEFECTS.keys())
def test_bad_examples_and_defaults(spec: Path, capsys: pytest.CaptureFixture[str],
                                   case: tuple[str, str, str, str, str]) -> None:
    file, old, new, pointer, word = case
    plant(spec, file, old, new)
    err = run_warned(spec, capsys)
    assert_finding(err, spec / file, pointer, word, severity="warning")


def test_schema_examples_keyword(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "id: {type: string}", "id: {type: string, examples: [T1, 7]}")
    err = run_warned(spec, capsys)
    assert_finding(err, spec / "openapi.yaml", "/components/schemas/Thing/properties/id/examples/1",
                   "string", severity="warning")


# --- c. references ---------------------------------------------------------------------------


def test_dangling_internal_ref(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "$ref: '#/components/responses/NotFound'",
          "$ref: '#/components/responses/Missing'")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "openapi.yaml", f"{THING_GET}/responses/404/$ref",
                   "dangling $ref", "Missing")
    assert "Traceback" not in err


def test_dangling_external_ref_in_second_file(
        spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "widgets.yaml", "$ref: '#/components/schemas/Widget'",
          "$ref: '#/components/schemas/Gadget'")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "widgets.yaml",
                   f"{WIDGET_POST}/responses/200/content/application~1xml/schema/$ref", "dangling")


def test_link_to_unknown_operation(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "widgets.yaml", "operationId: create-widget\n              description",
          "operationId: create-gadget\n              description")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "widgets.yaml",
                   f"{WIDGET_POST}/responses/200/links/Again/operationId", "create-gadget")


# --- d. security -----------------------------------------------------------------------------


def test_undefined_security_scheme_top_level(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "security:\n  - basicAuth: []", "security:\n  - tokenAuth: []")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "openapi.yaml", "/security/0/tokenAuth", "not defined")


def test_undefined_security_scheme_on_operation(
        spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "widgets.yaml", "- basicAuth: []", "- basicAuth: []\n        - tokenAuth: []")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "widgets.yaml", f"{WIDGET_POST}/security/1/tokenAuth", "not defined")


# --- e. 4xx ----------------------------------------------------------------------------------


def test_operation_without_4xx(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "widgets.yaml", "        '400':", "        '500':")
    err = run_warned(spec, capsys)
    assert_finding(err, spec / "widgets.yaml", f"{WIDGET_POST}/responses", "no 4xx", severity="warning")


# --- f. operationIds -------------------------------------------------------------------------


def test_duplicate_operation_id_reports_both(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "widgets.yaml", "operationId: create-widget\n      tags",
          "operationId: get-thing\n      tags")
    code, _, err = run_lint(spec, capsys)
    assert code == 1
    assert_finding(err, spec / "openapi.yaml", f"{THING_GET}/operationId", "POST /widgets")
    assert_finding(err, spec / "widgets.yaml", f"{WIDGET_POST}/operationId",
                   "GET /things/{thingId}")


def test_missing_operation_id(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "      operationId: get-thing\n", "")
    err = run_warned(spec, capsys)
    assert_finding(err, spec / "openapi.yaml", THING_GET, "no operationId", severity="warning")


# --- g. unused components --------------------------------------------------------------------


def test_unused_components_in_root(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "  schemas:\n",
          "  schemas:\n    Orphan: {$ref: '#/components/schemas/OrphansChild'}\n"
          "    OrphansChild: {type: string}\n")
    plant(spec, "openapi.yaml", "  securitySchemes:\n",
          "  securitySchemes:\n    tokenAuth: {type: http, scheme: bearer}\n")
    err = run_warned(spec, capsys)
    root = spec / "openapi.yaml"
    assert_finding(err, root, "/components/schemas/Orphan", "unused", severity="warning")
    # used only by an unused component is unused too
    assert_finding(err, root, "/components/schemas/OrphansChild", "unused", severity="warning")
    assert_finding(err, root, "/components/securitySchemes/tokenAuth", "unused", severity="warning")
    assert "/components/schemas/Thing:" not in err
    assert "/components/securitySchemes/basicAuth:" not in err


def test_unused_component_in_second_file(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing refers to it, so bundling never brings it into the bundled document.
    plant(spec, "widgets.yaml", "  examples:\n    SmallWidget:",
          "  examples:\n    Lonely: {value: 1}\n    SmallWidget:")
    err = run_warned(spec, capsys)
    assert_finding(err, spec / "widgets.yaml", "/components/examples/Lonely", "unused", severity="warning")


def test_unused_after_its_only_user_is_removed(
        spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plant(spec, "openapi.yaml", "        '404': {$ref: '#/components/responses/NotFound'}",
          "        '404': {description: Gone.}")
    err = run_warned(spec, capsys)
    assert_finding(err, spec / "openapi.yaml", "/components/responses/NotFound", "unused", severity="warning")


# --- files that cannot be read ---------------------------------------------------------------


def numspec_command() -> list[str]:
    """The installed console script; `python -m generator.cli` (same entry point) when the
    project is not installed into this interpreter's environment."""
    script = Path(sys.executable).with_name("numspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "numspec.generator.cli"]


@pytest.mark.parametrize("file", ["openapi.yaml", "widgets.yaml"])
def test_malformed_yaml_gives_line_and_column(spec: Path, file: str) -> None:
    old = "example: {id: T1, size: 3}" if file == "openapi.yaml" else "value: {Name: w1}"
    plant(spec, file, old, old[:-1])  # an unclosed flow mapping
    result = subprocess.run([*numspec_command(), "lint", str(spec / "openapi.yaml")],
                            capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert re.search(rf"^error: {re.escape(str(spec / file))}:\d+:\d+: malformed YAML",
                     result.stderr, re.MULTILINE), result.stderr
