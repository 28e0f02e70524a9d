"""Regenerate Vigil's Grafana provisioning files in this folder from ``vigil/grafana/``.

Usage::

    .venv/bin/python deploy/grafana/generate.py          # write the files
    .venv/bin/python deploy/grafana/generate.py --check  # exit 1 if any checked-in file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vigil.grafana.files import stale, write

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale(ROOT)
        for path in bad:
            print(f"stale: deploy/grafana/{path} (run python deploy/grafana/generate.py)", file=sys.stderr)
        return 1 if bad else 0
    for path in write(ROOT):
        print(path.relative_to(ROOT.parents[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
