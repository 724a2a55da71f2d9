"""The command line, ``python -m analysis.loaders.table``: write the example table, or
show what the loader understands of a table.
"""

from __future__ import annotations

import json
import warnings

from ..._utils import DataError
from .example import EXAMPLE_OPTIONS, write_example_table
from .loader import load_word_table

def main(argv=None):
    """``python -m analysis.loaders.table``: write the example table, or show what a table says.

    Returns the exit code (0, or 2 on a data error).
    """
    import argparse
    import sys

    from ...params import parse_text

    parser = argparse.ArgumentParser(
        prog="python -m analysis.loaders.table",
        description="Check what the 'table' dataset understands of a word-level table, or "
                    "write the project's example table.")
    parser.add_argument("path", nargs="?", help="a table to read (CSV, TSV, Parquet)")
    parser.add_argument("--options", default="{}",
                        help="loader options as YAML, as for dataset_options "
                             "(e.g. '{word: token, measures: [rt]}')")
    parser.add_argument("--write-example", metavar="PATH",
                        help="write the example self-paced reading table to PATH")
    parser.add_argument("--kind", choices=("trials", "words"), default="trials",
                        help="example: one row per participant and word, or per word")
    parser.add_argument("--participants", type=int, default=5)
    parser.add_argument("--words", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.path and not args.write_example:
        parser.error("give a table to read, or --write-example PATH")
    try:
        if args.write_example:
            out = write_example_table(args.write_example, kind=args.kind,
                                      n_participants=args.participants, n_words=args.words,
                                      seed=args.seed)
            print(f"wrote {out}; open it with dataset_options {json.dumps(EXAMPLE_OPTIONS)}"
                  if args.kind == "trials" else f"wrote {out}")
        if args.path:
            options = parse_text(args.options) or {}
            if not isinstance(options, dict):
                raise DataError(f"--options {args.options!r}; expected a mapping such as "
                                "'{word: token, measures: [rt]}'.")
            with warnings.catch_warnings():  # the printed summary holds the warning
                warnings.simplefilter("ignore", UserWarning)
                ds = load_word_table(args.path, **options)
            print(ds)
    except (DataError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
