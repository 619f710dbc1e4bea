"""`python -m bench <name> [options]`: each benchmark module adds its own sub-command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol

from bench import claims, ingest, injection, load
from bench.latency import runner as latency
from bench.quality import runner as quality


class Benchmark(Protocol):
    """What a benchmark module provides."""

    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, *, command: str) -> int: ...


COMMANDS: dict[str, Benchmark] = {
    "ingest": ingest,
    "quality": quality,
    "latency": latency,
    "load": load,
    "injection": injection,
    "claims": claims,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    args = parser.parse_args(argv)
    command = " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)])
    return COMMANDS[args.command].run(args, command=command)


if __name__ == "__main__":
    sys.exit(main())
