"""Measuring memory: gradient decay, and the largest lag each setting solves.

Gradient decay: for a model and input sequences of length T, the norm of
d h_T / d s_(T-k) for k = 1..T-1, where s is the full recurrent state (h for
Elman and GRU; h and c for LSTM). We project h_T on a fixed random unit vector
v per sequence and backpropagate once: ||v^T J_k|| for every k at once, whose
mean square is ||J_k||_F^2 / units. Plotted on a log scale, a straight falling
line is the exponential forgetting the vanishing-gradient argument predicts.
"""

import csv
import pathlib

import numpy as np

from core.runs import write_text_atomic


def gradient_decay(cell, inputs, rng):
    """Mean ||v^T d h_T / d s_(T-k)|| over the batch, for k = 1..T-1.

    Args:
        cell: a built `core.cells` cell.
        inputs: (batch, T, features) float32 NumPy array.
        rng: NumPy generator for the projection vectors.

    Returns:
        (T - 1,) array; entry k - 1 is the norm at lag k.
    """
    import tensorflow as tf

    batch, steps, _ = inputs.shape
    x = tf.constant(inputs)
    v = rng.standard_normal((batch, cell.units)).astype(np.float32)
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    states = [tf.convert_to_tensor(s) for s in cell.get_initial_state(batch)]
    state_inputs = []  # state_inputs[t] = the state fed into step t = s_(t-1)
    with tf.GradientTape() as tape:
        for t in range(steps):
            tape.watch(states)
            state_inputs.append(states)
            output, states = cell(x[:, t], states)
            states = list(states)
        projection = tf.reduce_sum(output * v)
    # h_T is the output of the last step (index T-1); lag k is state_inputs[T-k].
    targets = [state_inputs[steps - k] for k in range(1, steps)]
    grads = tape.gradient(projection, targets, unconnected_gradients="zero")
    norms = []
    for per_state in grads:
        squared = sum(tf.reduce_sum(g * g, axis=-1) for g in per_state)
        norms.append(float(tf.reduce_mean(tf.sqrt(squared))))
    return np.asarray(norms)


def largest_solved(rows, lags):
    """Per (task, setting, seed): the largest lag solved with every smaller lag
    solved too (0 if the smallest failed)."""
    result = {}
    for row in rows:
        key = (row["task"], row["setting"], int(row["seed"]))
        result.setdefault(key, {})[int(row["k"])] = str(row["solved"]) == "True"
    largest = {}
    for key, solved in result.items():
        best = 0
        for k in sorted(lags):
            if not solved.get(k, False):
                break
            best = k
        largest[key] = best
    return largest


def summary_table(rows, config):
    """Markdown table: per setting and task, the largest lag solved by each seed
    and the test score at every lag (mean over seeds that ran it)."""
    largest = largest_solved(rows, config.lags)
    header = ["setting", "task", "largest k solved (per seed)"] + [
        f"k={k}" for k in config.lags
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task in config.tasks:
        for setting in config.settings:
            seeds = [largest.get((task, setting, s)) for s in config.seeds]
            seeds_text = ", ".join("-" if s is None else str(s) for s in seeds)
            cells = []
            for k in config.lags:
                scores = [
                    float(r["score"])
                    for r in rows
                    if r["task"] == task
                    and r["setting"] == setting
                    and int(r["k"]) == k
                ]
                cells.append(f"{np.mean(scores):.2f}" if scores else "skipped")
            lines.append("| " + " | ".join([setting, task, seeds_text, *cells]) + " |")
    return "\n".join(lines) + "\n"


def write_rows_csv(path, rows, fieldnames):
    path = pathlib.Path(path)
    lines = [",".join(fieldnames)]
    lines += [",".join(str(row[name]) for name in fieldnames) for row in rows]
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_rows_csv(path):
    path = pathlib.Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def plot_gradient_decay(curves, path, title):
    """curves: {label: (T-1,) norms}; writes a log-scale PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, stage in zip(axes, ("initialisation", "trained"), strict=True):
        for label, norms in curves.items():
            if label.endswith(stage):
                lags = np.arange(1, len(norms) + 1)
                axis.semilogy(
                    lags, np.maximum(norms, 1e-30), label=label.split(" @")[0]
                )
        axis.set_title(
            "at initialisation" if stage == "initialisation" else "after training"
        )
        axis.set_xlabel("lag k (steps back)")
        axis.axvline(10, color="grey", linestyle=":", linewidth=1)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("||dh_T / ds_(T-k)|| (projected)")
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(temporary, dpi=110)
    plt.close(fig)
    temporary.replace(path)
