"""The `rnn-demos` command: `rnn-demos <app> <verb> [options]`.

Each app lives in `apps/<app>/` and its `cli.py` provides two functions:
`add_commands(subparsers)` adds the app's verbs, and `demo(out_dir)` runs the
app's quick step of `rnn-demos demo`, returning (name, value) rows for the
summary table.
"""

import argparse
import importlib
import os
import pathlib
import sys
import tempfile
import time

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_keras_quietly():
    """Imports Keras (and its backend) with the backend's start-up log lines
    hidden; they are shown after all if the import fails."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            importlib.import_module("keras")
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.buffer.write(sink.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


# The order in which `rnn-demos demo` runs the apps.
APPS = {
    "lesson": "the vanishing-gradient lesson: Elman vs LSTM vs GRU",
    "recsys": "session-based recommendation (GRU4Rec)",
    "speech": "speech-to-text (conv + bidirectional RNN + CTC)",
    "handwriting": "handwriting generation (Graves 2013)",
    "video_sound": "sound for silent video (Owens et al. 2016)",
}


def available_apps():
    """The apps of `APPS` whose package exists in this checkout."""
    here = pathlib.Path(__file__).parent
    return [name for name in APPS if (here / name / "cli.py").is_file()]


def _app_cli(name):
    return importlib.import_module(f"apps.{name}.cli")


def run_demo(args):
    out_dir = pathlib.Path(args.out)
    rows, failed = [], []
    for name in args.apps or available_apps():
        start = time.perf_counter()
        print(f"== {name}: {APPS[name]}", flush=True)
        try:
            app_rows = _app_cli(name).demo(out_dir / name)
        except Exception as error:  # one app failing must not hide the others
            failed.append(name)
            app_rows = [("error", f"{type(error).__name__}: {error}")]
        seconds = time.perf_counter() - start
        rows.extend((name, key, value) for key, value in app_rows)
        rows.append((name, "seconds", f"{seconds:.1f}"))
    print_table(rows, headers=("app", "result", "value"))
    print(f"outputs under {out_dir}/")
    return 1 if failed else 0


def print_table(rows, headers):
    """Prints rows of strings as an aligned text table."""
    rows = [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join("-" * width for width in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="rnn-demos",
        description="Recurrent-network demos on Keras 3: rnn-demos <app> <verb>.",
    )
    apps = parser.add_subparsers(dest="app", metavar="<app>", required=True)
    demo = apps.add_parser("demo", help="run every app's quick demo step")
    demo.add_argument("--out", default="out/demo", help="output folder")
    demo.add_argument(
        "--apps", nargs="*", choices=list(APPS), help="only these apps (default: all)"
    )
    demo.set_defaults(func=run_demo)
    for name in available_apps():
        app_parser = apps.add_parser(name, help=APPS[name])
        verbs = app_parser.add_subparsers(dest="verb", metavar="<verb>")
        _app_cli(name).add_commands(verbs)
        app_parser.set_defaults(func=None, app_parser=app_parser)
    return parser


def main(argv=None):
    _import_keras_quietly()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.func is None:
        args.app_parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        # User errors get one clear line, not a traceback.
        print(f"rnn-demos: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
