"""The whole lesson: the task grid, the gradient-decay curves, the summary.

Writes into `out_dir`:
    config.json            the resolved config
    results.csv            one row per (task, setting, k, seed) run; re-running
                           with the same folder resumes (done rows are skipped)
    summary.md             the table of the largest lag solved per setting
    gradient_decay.csv     norms per lag, per setting, at init and trained
    gradient_decay.png     the same, log scale
    models/                with `curriculum`, the latest model of each
                           (task, setting, seed), continued at the next lag
"""

import pathlib

import numpy as np

from apps.lesson.data import make_task
from apps.lesson.evaluate import (
    gradient_decay,
    plot_gradient_decay,
    read_rows_csv,
    summary_table,
    write_rows_csv,
)
from apps.lesson.train import LessonConfig, compile_model, new_model, train_one
from core.runs import (
    RunDir,
    load_model,
    save_model_atomic,
    set_seed,
    write_text_atomic,
)

FIELDS = [
    "task",
    "setting",
    "k",
    "seed",
    "units",
    "parameters",
    "metric",
    "score",
    "solved",
    "epochs",
    "seconds",
]


def run_grid(config, run, log=print, strategy=None):
    """Trains every (task, setting, seed) up the lag ladder; returns the rows."""
    results_path = run.path / "results.csv"
    rows = read_rows_csv(results_path)
    done = {(r["task"], r["setting"], int(r["k"]), int(r["seed"])) for r in rows}
    for task in config.tasks:
        for setting in config.settings:
            for seed in config.seeds:
                for k in sorted(config.lags):
                    key = (task, setting, k, seed)
                    previous = [
                        r
                        for r in rows
                        if (r["task"], r["setting"], int(r["seed"]))
                        == (task, setting, seed)
                        and int(r["k"]) < k
                    ]
                    failed_before = any(str(r["solved"]) != "True" for r in previous)
                    if config.stop_at_first_failure and failed_before:
                        break
                    if key in done:
                        continue
                    model_path = run.path / "models" / f"{task}_{setting}_{seed}.keras"
                    model = None
                    if config.curriculum and model_path.is_file():
                        model = load_model(model_path)
                    row, model = train_one(
                        setting, task, k, seed, config, strategy, model=model
                    )
                    if config.curriculum:
                        save_model_atomic(model, model_path)
                    rows.append(row)
                    write_rows_csv(results_path, rows, FIELDS)
                    log(
                        f"{task:7s} {setting:20s} k={k:<4d} seed={seed} "
                        f"{row['metric']}={row['score']:.3f} solved={row['solved']} "
                        f"epochs={row['epochs']} {row['seconds']}s"
                    )
    return rows


def run_gradients(config, run, log=print, strategy=None):
    """Gradient-decay curves for every setting, at initialisation and after
    training on recall at `gradient_train_lag`."""
    curves = {}
    seed = config.seeds[0]
    rng = np.random.default_rng(seed)
    probe, _ = make_task("recall", config.gradient_batch, config.gradient_lags, rng)
    for setting in config.settings:
        set_seed(seed)
        model = new_model(setting, "recall", config)
        model(probe[:1])  # build
        curves[f"{setting} @initialisation"] = gradient_decay(
            model.get_layer("rnn").cell, probe, np.random.default_rng(seed)
        )
        _, trained = train_one(
            setting, "recall", config.gradient_train_lag, seed, config, strategy
        )
        curves[f"{setting} @trained"] = gradient_decay(
            trained.get_layer("rnn").cell, probe, np.random.default_rng(seed)
        )
        init, trained_norms = (
            curves[f"{setting} @initialisation"],
            curves[f"{setting} @trained"],
        )
        log(
            f"gradient {setting:20s} lag 10: init {init[9]:.2e} trained "
            f"{trained_norms[9]:.2e}; lag {config.gradient_lags}: init "
            f"{init[-1]:.2e} trained {trained_norms[-1]:.2e}"
        )
    lags = np.arange(1, config.gradient_lags + 1)
    header = "lag," + ",".join(name.replace(" @", "@") for name in curves)
    lines = [header] + [
        f"{lag}," + ",".join(f"{curves[name][lag - 1]:.6e}" for name in curves)
        for lag in lags
    ]
    write_text_atomic(run.path / "gradient_decay.csv", "\n".join(lines) + "\n")
    plot_gradient_decay(
        curves,
        run.path / "gradient_decay.png",
        f"Gradient decay over {config.gradient_lags} steps "
        f"(~{config.parameter_budget} recurrent parameters each; trained on recall, "
        f"k={config.gradient_train_lag})",
    )
    return curves


def run_lesson(config, out_dir, log=print, gradients=True, grid=True, strategy=None):
    """Runs the lesson; returns (rows, summary markdown, curves)."""
    # Compile once to fail fast on a bad config before the long loop.
    for task in config.tasks:
        for setting in config.settings:
            compile_model(new_model(setting, task, config), task, config)
    run = RunDir(out_dir)
    run.write_config(config)
    curves = run_gradients(config, run, log, strategy) if gradients else {}
    rows = (
        run_grid(config, run, log, strategy)
        if grid
        else read_rows_csv(run.path / "results.csv")
    )
    summary = summary_table(rows, config)
    write_text_atomic(pathlib.Path(run.path) / "summary.md", summary)
    return rows, summary, curves


__all__ = ["LessonConfig", "run_lesson", "run_grid", "run_gradients"]
