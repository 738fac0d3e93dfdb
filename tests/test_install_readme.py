"""README.md works as written: its Python blocks run against a real `numspec serve`, and every
`numspec` command in its shell blocks is one the CLI accepts (the quick ones are run).

The only change made to a block is the address: the README says 127.0.0.1:8000, the test's
server listens on a free port.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from numspec.generator.cli import build_parser

from tests.emulator_process import ROOT, EmulatorProcess, _environment, numspec_command

README = ROOT / "README.md"
DOCUMENTED = "http://127.0.0.1:8000"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(language: str, text: str | None = None) -> list[str]:
    text = README.read_text(encoding="utf-8") if text is None else text
    return [body for lang, body in BLOCK.findall(text) if lang == language]


def shell_commands(text: str | None = None) -> list[list[str]]:
    """Each command line of the sh blocks (continuations joined, comments dropped)."""
    commands = []
    for block in blocks("sh", text):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def python_blocks(text: str | None = None) -> list[str]:
    return blocks("python", text)


def run_python_blocks(folder: Path, base: str, text: str | None = None,
                      python: str = sys.executable,
                      env: dict[str, str] | None = None) -> list[subprocess.CompletedProcess[str]]:
    """Every Python block of the README, run from `folder` against the server at `base`: a
    block that defines pytest tests runs under pytest, any other as a script."""
    results = []
    for index, block in enumerate(python_blocks(text)):
        source = block.replace(DOCUMENTED, base)
        if "@schema.parametrize" in source:
            path = folder / f"test_readme_{index}.py"
            path.write_text(source, encoding="utf-8")
            command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", path.name]
        else:
            path = folder / f"readme_{index}.py"
            path.write_text(source, encoding="utf-8")
            command = [python, path.name]
        results.append(subprocess.run(command, cwd=folder, env=env, capture_output=True,
                                      text=True, timeout=300, check=False))
    return results


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    folder = tmp_path_factory.mktemp("readme-serve")
    process = EmulatorProcess(folder / "numspec.db", folder / "serve.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_the_readme_has_the_examples_this_test_runs() -> None:
    sources = python_blocks()
    assert any("FreeClimbClient" in s for s in sources)
    assert any("contract_schema" in s for s in sources)
    assert all(DOCUMENTED in s for s in sources), "a block talks to some other server"


def test_every_python_block_runs_against_numspec_serve(server: EmulatorProcess,
                                                       tmp_path: Path) -> None:
    env = {k: v for k, v in _environment().items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(ROOT)  # this worktree's numspec, from a folder outside it
    for result in run_python_blocks(tmp_path, server.base_url, env=env):
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "Traceback" not in result.stderr
    log = server.log_text()
    assert "Traceback" not in log, log


def test_every_numspec_command_in_the_shell_blocks_is_accepted() -> None:
    parser = build_parser()
    commands = [words for words in shell_commands() if words[0] == "numspec"]
    assert len(commands) >= 4
    for words in commands:
        try:
            parser.parse_args(words[1:])
        except SystemExit as exc:
            pytest.fail(f"README command refused by the CLI: {' '.join(words)} ({exc})")


def test_the_shell_blocks_contract_commands_run_against_numspec_serve(
        server: EmulatorProcess, tmp_path: Path) -> None:
    """Each `numspec contract` line as written (plus `--phases examples`, to keep the test
    short: test_contract runs every phase), with the README's `export` lines applied."""
    env = _environment()
    env.pop("NUMSPEC_AUTH", None)
    ran = 0
    for words in shell_commands():
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
        if words[:2] != ["numspec", "contract"] or "--webhooks" in words:
            continue  # needs the reader's own receiver; test_contract_webhooks runs these against one
        args = [w.replace(DOCUMENTED, server.base_url) for w in words[1:]]
        result = subprocess.run([*numspec_command(), *args, "--phases", "examples"], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=300,
                                check=False)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        ran += 1
    assert ran >= 2
    assert (tmp_path / "report.xml").is_file()  # the --junit example wrote its report
