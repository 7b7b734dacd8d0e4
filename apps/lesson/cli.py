"""`rnn-demos lesson run [--quick]`: the vanishing-gradient lesson."""

import pathlib

from core.config import add_config_arguments, load_config
from core.runs import add_strategy_argument, get_strategy


def _add_run_arguments(parser):
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few-minute version (one task, two lags, one seed)",
    )
    parser.add_argument("--out", default="out/lesson", help="output folder")
    parser.add_argument(
        "--no-gradients", action="store_true", help="skip the gradient-decay curves"
    )
    parser.add_argument(
        "--no-grid", action="store_true", help="skip the task grid (gradients only)"
    )
    add_config_arguments(parser)
    add_strategy_argument(parser)


def resolve_config(args):
    """Defaults (the full experiment) < --quick or --config file < --set."""
    from apps.lesson.train import QUICK_CONFIG, LessonConfig

    if args.quick and args.config:
        raise ValueError("give either --quick or --config, not both")
    path = QUICK_CONFIG if args.quick else args.config
    return load_config(LessonConfig, path, args.overrides)


def run(args):
    from apps.lesson.experiment import run_lesson

    config = resolve_config(args)
    strategy = get_strategy(args.strategy)
    out = pathlib.Path(args.out)
    _, summary, _ = run_lesson(
        config,
        out,
        gradients=not args.no_gradients,
        grid=not args.no_grid,
        strategy=strategy,
    )
    print(summary)
    print(f"results in {out}/ (results.csv, summary.md, gradient_decay.csv/.png)")
    return 0


def add_commands(subparsers):
    parser = subparsers.add_parser("run", help="run the lesson's experiments")
    _add_run_arguments(parser)
    parser.set_defaults(func=run)


def demo(out_dir):
    """The quick lesson: rows of the largest lag solved per setting."""
    from apps.lesson.evaluate import largest_solved
    from apps.lesson.experiment import run_lesson
    from apps.lesson.train import QUICK_CONFIG, LessonConfig

    config = load_config(LessonConfig, QUICK_CONFIG)
    rows, summary, curves = run_lesson(config, out_dir, log=lambda *_: None)
    print(summary)
    largest = largest_solved(rows, config.lags)
    result = [
        (
            f"{setting} largest k solved ({task})",
            str(largest.get((task, setting, 0), 0)),
        )
        for task in config.tasks
        for setting in config.settings
    ]
    for name, norms in curves.items():
        if name.endswith("@initialisation"):
            result.append(
                (
                    f"{name.split(' @')[0]} grad norm at lag 50 (init)",
                    f"{norms[49]:.1e}",
                )
            )
    return result
