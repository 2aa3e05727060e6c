"""A job that fails on purpose: it checks for an input file that is not there, says so on stderr,
and exits with a specific code (3 by default), so you can see how Suanli reports a failure.

    python3 -u examples/programs/fail.py --exit-code 3
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", default="data/does-not-exist.csv", help="the input it looks for")
    parser.add_argument("--exit-code", type=int, default=3, help="the exit status on failure (default 3)")
    args = parser.parse_args(argv)
    job = os.environ.get("SUANLI_JOB_ID", "-")
    attempt = os.environ.get("SUANLI_ATTEMPT", "-")
    print(f"suanli job {job} attempt {attempt}: loading {args.input}", flush=True)
    if not os.path.exists(args.input):
        print(
            f"error: input file {args.input} not found; exiting with code {args.exit_code}", file=sys.stderr, flush=True
        )
        return int(args.exit_code)
    print(f"found {args.input}; nothing to fail about", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
