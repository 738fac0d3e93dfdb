"""How long `numspec generate` takes, next to datamodel-code-generator alone, in one run.

Baselines are measured here, side by side, never remembered from another machine:

* datamodel-code-generator's `generate()` with numspec's own model config
  (`numspec.generator.codegen.render.model_config()`) on the bundled document generated/openapi.json:
  what numspec adds on top of the one tool it cannot do without (load, lint, the IR, per-provider
  models, Jinja clients and stubs, the manifest, the atomic write);
* a full `numspec generate` from the command line: what `--check` costs when nothing changed
  (the manifest fast path) and when an input was touched but the output is the same (the
  regenerate-and-compare path).

The figures are measured in N rounds (`--runs N`, default 5), each round running every figure
once, so a figure and its baseline share the machine's load; a ratio is the median of the
rounds' ratios. In-process figures follow one untimed warm-up run, so they leave out import
time, which the fresh-process figures include. The last lines say whether issue 14's goals are
met.

    python -m bench.bench_generate [--runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from numspec.generator import codegen
from numspec.generator.codegen import generate_files, lint_findings
from numspec.generator.codegen.render import model_config
from numspec.generator.specload import DEFAULT_SPEC, load

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "generated" / "openapi.json"
NUMSPEC = Path(sys.executable).parent / "numspec"
DCG_ALONE = """
import sys, warnings
from datamodel_code_generator import generate
from numspec.generator.codegen.render import model_config
warnings.simplefilter("ignore", FutureWarning)
generate(open(sys.argv[1], encoding="utf-8").read(), config=model_config())
"""


# Issue 14's goals: what numspec may add on top of datamodel-code-generator.
GOALS = {"numspec generate, in process": 1.3, "numspec generate, fresh process (CLI)": 1.2}


def quietly(action: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            action()
    return run


def process(*args: str | Path) -> Callable[[], None]:
    def run() -> None:
        result = subprocess.run([str(a) for a in args], cwd=ROOT, capture_output=True,
                                text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip()}")
    return run


def dcg_in_process() -> None:
    text = BUNDLED.read_text(encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from datamodel_code_generator import generate
        generate(text, config=model_config())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_generate")
    parser.add_argument("--runs", type=int, default=5, help="rounds; each times every figure once (default 5)")
    args = parser.parse_args(argv)
    runs = max(1, args.runs)
    if not BUNDLED.is_file():
        print(f"{BUNDLED} is missing: run `numspec generate` first", file=sys.stderr)
        return 1

    work = Path(tempfile.mkdtemp(prefix="numspec-bench-"))
    try:
        counter = iter(range(10**6))

        def generate_in_process() -> None:
            out = work / f"inproc-{next(counter)}"
            codegen.main(argparse.Namespace(spec=str(DEFAULT_SPEC), out=str(out), check=False))

        checked = work / "checked"
        process(NUMSPEC, "generate", "--out", checked)()
        touched_spec = work / "spec"
        shutil.copytree(DEFAULT_SPEC.parent, touched_spec)
        root = touched_spec / DEFAULT_SPEC.name
        # A comment changes the inputs' fingerprint but not one byte of the output.
        root.write_text(root.read_text(encoding="utf-8") + "\n# touched by the benchmark\n",
                        encoding="utf-8")

        dcg = "datamodel-code-generator alone, in process"
        full = "numspec generate, in process"
        dcg_cold = "datamodel-code-generator alone, fresh process"
        cli = "numspec generate, fresh process (CLI)"
        loaded = load(DEFAULT_SPEC)
        # (label, action, baseline, warm-up first): in-process figures leave import time out.
        figures: list[tuple[str, Callable[[], object], str | None, bool]] = [
            (dcg, dcg_in_process, None, True),
            (full, quietly(generate_in_process), dcg, True),
            ("numspec generate --check, nothing changed, in process",
             quietly(lambda: codegen.main(argparse.Namespace(
                 spec=str(DEFAULT_SPEC), out=str(checked), check=True))), full, True),
            (dcg_cold, process(sys.executable, "-c", DCG_ALONE, BUNDLED), None, False),
            (cli, process(NUMSPEC, "generate", "--out", work / "cli"), dcg_cold, False),
            ("numspec generate --check, nothing changed (CLI)",
             process(NUMSPEC, "generate", "--check", "--out", checked), cli, False),
            ("numspec generate --check, input touched, output same (CLI)",
             process(NUMSPEC, "generate", "--check", "--spec", touched_spec, "--out", checked),
             cli, False),
            # Where a full in-process run spends its time.
            ("  load + bundle the spec", lambda: load(DEFAULT_SPEC), full, True),
            ("  lint (quick rules, as generate runs them)", lambda: lint_findings(loaded), full,
             True),
            ("  IR + models (DCG per provider) + templates", lambda: generate_files(loaded), full,
             True),
        ]
        for _, action, _, warmup in figures:
            if warmup:
                action()
        # Round after round, every figure once per round: a figure and its baseline see the
        # same load on a shared machine, instead of one of them getting a quiet minute.
        times: dict[str, list[float]] = {label: [] for label, _, _, _ in figures}
        for round_ in range(runs):
            for label, action, _, _ in figures:
                started = time.perf_counter()
                action()
                times[label].append(time.perf_counter() - started)
            print(f"  round {round_ + 1} of {runs} done", file=sys.stderr, flush=True)
        rows = [(label, times[label], baseline) for label, _, baseline, _ in figures]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"numspec generate vs datamodel-code-generator alone; median of {runs} rounds")
    width = max(len(label) for label, _, _ in rows)
    print(f"{'measurement':<{width}}  {'median':>9}  {'min':>9}  ratio (median of the rounds' ratios)")
    ratios: dict[str, float] = {}
    for label, taken, baseline in rows:
        if baseline is None:
            shown = "baseline"
        else:
            # Each round's figure over its baseline in the same round, then the median.
            ratios[label] = statistics.median(a / b for a, b in zip(taken, times[baseline]))
            shown = f"{ratios[label]:.2f} x {baseline}"
        print(f"{label:<{width}}  {statistics.median(taken) * 1000:7.0f}ms  "
              f"{min(taken) * 1000:7.0f}ms  {shown}")
    for label, goal in GOALS.items():
        verdict = "MET" if ratios[label] <= goal else "NOT MET"
        print(f"goal: {label} <= {goal} x datamodel-code-generator alone: "
              f"{ratios[label]:.2f} x {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
