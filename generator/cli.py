"""The `numspec` command line: one sub-command per job, each implemented in its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from numspec.generator.specload import DEFAULT_SPEC, SpecError

EPILOG = """\
examples:
  numspec lint                      check spec/ and list its operations per provider
  numspec generate                  write models, clients and server stubs into generated/
  numspec generate --check          exit 1 when generated/ is stale (CI drift gate)
  numspec serve                     run the emulator for both providers on 127.0.0.1:8000
  numspec contract --provider freeclimb --url http://127.0.0.1:8000/apiserver --auth ID:KEY
  numspec docs build --out numspec-docs.html
"""


def _lint(args: argparse.Namespace) -> int:
    from numspec.generator import lint
    return lint.main(args)


def _generate(args: argparse.Namespace) -> int:
    from numspec.generator import codegen
    return codegen.main(args)


def _serve(args: argparse.Namespace) -> int:
    from numspec.emulator import serve
    return serve.main(args)


def _contract(args: argparse.Namespace) -> int:
    from numspec.generator import contract
    return contract.main(args)


def _docs(args: argparse.Namespace) -> int:
    from numspec.generator import docs
    return docs.main(args)


def port(text: str) -> int:
    """A TCP port number, for argparse: refuse what the OS would refuse later with a traceback."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


# One function per sub-command, so each command's options live (and change) in one place.
def add_lint_command(sub: Any) -> None:
    p = sub.add_parser("lint", help="check that a contract is sound",
                       description="Validate a contract with openapi-spec-validator plus numspec's "
                                   "own rules (examples valid, no dangling $ref, security schemes "
                                   "defined, 4xx documented, unique operationIds, no unused "
                                   "components). Errors (not valid OpenAPI, dangling $ref, "
                                   "undefined security scheme, duplicate operationId) exit 1; "
                                   "the rest are warnings, which exit 1 only with --strict.")
    p.add_argument("path", nargs="?", default=str(DEFAULT_SPEC),
                   help="root file or folder of the contract (default: spec/openapi.yaml)")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print findings only, not the table of operations")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 on warnings too (the bar for our own contract in CI)")
    p.set_defaults(func=_lint)


def add_generate_command(sub: Any) -> None:
    p = sub.add_parser("generate", help="generate models, clients and server stubs",
                       description="Generate Pydantic models, httpx clients and FastAPI server "
                                   "stubs per provider (first tag) from an OpenAPI 3.0/3.1 "
                                   "document. Lint findings are printed as advice; an operation "
                                   "the generator cannot express is skipped with one line saying "
                                   "why, and the rest is generated. Exits 1 only when nothing "
                                   "could be generated (or with --fail-on-skip). Writes "
                                   "atomically.")
    p.add_argument("--spec", default=str(DEFAULT_SPEC), help="contract root (default: spec/)")
    p.add_argument("--out", default=None, help="output folder (default: generated/)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 and list differences when the output is stale")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="list every lint warning and the operations per provider")
    p.add_argument("--fail-on-skip", action="store_true",
                   help="exit 1, writing nothing, when any operation had to be skipped")
    p.set_defaults(func=_generate)


def add_serve_command(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the emulator for both providers",
                       description="Serve FreeClimb under /apiserver and Restcomm under /restcomm "
                                   "from one process, with state in SQLite.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port, default=8000)
    p.add_argument("--db", default="numspec.db",
                   help="SQLite file (default: numspec.db); ':memory:' for a throwaway run")
    p.add_argument("--inventory", type=positive, default=None,
                   help="how many available numbers to seed into a new database")
    p.add_argument("--config", default=None, help="TOML file with extra accounts")
    p.set_defaults(func=_serve)


def add_contract_command(sub: Any) -> None:
    p = sub.add_parser("contract", help="prove a live server honours the contract",
                       description="Run Schemathesis against a live server for one provider, "
                                   "with numspec's provider checks on top.")
    p.add_argument("--provider", required=True, choices=["freeclimb", "restcomm"])
    p.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000/apiserver")
    p.add_argument("--auth", required=True, metavar="USER:PASS", help="Basic-auth credentials")
    p.add_argument("--read-only", action="store_true",
                   help="only safe methods (GET): for production endpoints where buying costs money")
    p.add_argument("--max-examples", type=positive, default=None,
                   help="examples per operation in the fuzzing phase")
    p.add_argument("--phases", default=None,
                   help="comma-separated phases: examples,coverage,fuzzing,stateful (default: all)")
    p.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable run")
    p.add_argument("--junit", default=None, metavar="PATH", help="write a JUnit XML report here")
    p.add_argument("--account", default=None,
                   help="account id for the path when the user name is not one (e.g. an e-mail)")
    p.add_argument("--workers", type=positive, default=1,
                   help="concurrent Schemathesis workers (default 1: repeatable with --seed)")
    p.add_argument("--spec", default=str(DEFAULT_SPEC), help="contract root (default: spec/)")
    p.set_defaults(func=_contract)


def add_docs_command(sub: Any) -> None:
    p = sub.add_parser("docs", help="browse the contract as documentation",
                       description="'numspec docs build' writes one self-contained HTML file; "
                                   "'numspec docs' (or 'docs serve') serves it on loopback.")
    p.add_argument("action", nargs="?", default="serve", choices=["serve", "build"])
    p.add_argument("--out", default="numspec-docs.html", help="file to write with 'build'")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port, default=8001)
    p.add_argument("--spec", default=str(DEFAULT_SPEC), help="contract root (default: spec/)")
    p.set_defaults(func=_docs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numspec",
        description="Tools for one OpenAPI 3.1 contract covering FreeClimb's and Restcomm's "
                    "phone-number APIs.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_lint_command(sub)
    add_generate_command(sub)
    add_serve_command(sub)
    add_contract_command(sub)
    add_docs_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except SpecError as exc:
        for finding in exc.findings:
            print(finding.line_text(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
