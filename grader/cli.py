"""`book-grade`, the grader's command (installed by `pip install` of the book's repository).

    book-grade grade EXERCISE SUBMISSIONS [--book PATH] [--out CSV] [--timeout S] [--jobs N] [--fresh] [--unisolated]
        grade a folder of submitted notebooks into a score table (grader/grade.py)
    book-grade gradescope EXERCISE [--book PATH] [--out ZIP] [--timeout S] [--unisolated]
        write the exercise's Gradescope autograder zip (grader/gradescope.py)
    book-grade gradescope-run [--root PATH]
        inside that autograder: grade the submission in /autograder (run by its run_autograder)

--book is the book's folder (default: the current folder): the exercises' checks are read from its
solutions/tests/ and exercises/tests/, answer keys from solutions/, the environment's lock from
requirements.lock, and the grader's cache is written to its _build/. See grader/README.md.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader import limits


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="book-grade", description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = made.add_subparsers(dest="command", required=True)

    grading = commands.add_parser("grade", help="grade a folder of submissions into a score table")
    grading.add_argument("exercise")
    grading.add_argument("submissions", type=Path)
    grading.add_argument("--book", type=Path, default=Path.cwd(), help="the book's folder (default: this folder)")
    grading.add_argument("--out", type=Path, default=None,
                         help="score table (default: SUBMISSIONS-EXERCISE-scores.csv beside the folder)")
    grading.add_argument("--timeout", type=int, default=limits.DEFAULT_TIMEOUT, help="seconds allowed per submission")
    grading.add_argument("--fresh", action="store_true", help="regrade every submission, even final rows")
    grading.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time (default 1)")
    grading.add_argument("--unisolated", action="store_true",
                         help="run submissions WITHOUT a sandbox, with your user's full access (trusted work only)")

    zipping = commands.add_parser("gradescope", help="write an exercise's Gradescope autograder zip")
    zipping.add_argument("exercise")
    zipping.add_argument("--book", type=Path, default=Path.cwd(), help="the book's folder (default: this folder)")
    zipping.add_argument("--out", type=Path, help="the zip (default: BOOK/_build/gradescope/EXERCISE.zip)")
    zipping.add_argument("--timeout", type=int, default=limits.DEFAULT_TIMEOUT)
    zipping.add_argument("--unisolated", action="store_true", help="run submissions WITHOUT a sandbox")

    running = commands.add_parser("gradescope-run", help="grade /autograder/submission (inside Gradescope)")
    running.add_argument("--root", type=Path, default=Path(os.environ.get("GRADESCOPE_ROOT", "/autograder")))
    return made


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.command == "grade":
        from grader import grade

        return grade.grade_folder(args.exercise, args.submissions, args.book.resolve(), out=args.out,
                                  timeout=args.timeout, jobs=args.jobs, fresh=args.fresh, unisolated=args.unisolated)
    from grader import gradescope

    if args.command == "gradescope":
        out = gradescope.build(args.exercise, args.book.resolve(), args.out, args.unisolated, args.timeout)
        print(f"Gradescope autograder: {out} (it holds the hidden checks: instructors only)")
        return 0
    return gradescope.run(args.root)


if __name__ == "__main__":
    sys.exit(main())
