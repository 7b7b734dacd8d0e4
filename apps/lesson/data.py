"""Long-range tasks where the answer depends only on inputs k steps back.

- Recall the first symbol (Hochreiter & Schmidhuber 1997, exp. 2 style): the
  sequence starts with one of `num_symbols` symbols, then k distractor tokens
  follow; the target, read at the last step, is the first symbol. Chance is
  1 / num_symbols; nothing but the first input is informative.
- The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): k steps
  of (value ~ U[0, 1], marker); exactly two markers are set, one in the first
  half and one in the second; the target is the sum of the two marked values.
  The trivial predictor (always 1.0) has MSE 1/6.
"""

import numpy as np

TASKS = ("recall", "adding")
RECALL_SYMBOLS = 4
RECALL_DISTRACTORS = 4
ADDING_TRIVIAL_MSE = 1.0 / 6.0  # Var(U1 + U2) for the constant guess 1.0


def recall_first_symbol(
    num_sequences,
    k,
    rng,
    num_symbols=RECALL_SYMBOLS,
    num_distractors=RECALL_DISTRACTORS,
):
    """Returns (inputs (n, k + 1, symbols + distractors) one-hot, targets (n,))."""
    if k < 1:
        raise ValueError(f"k (distractors after the symbol) must be >= 1; got {k}")
    vocabulary = num_symbols + num_distractors
    targets = rng.integers(0, num_symbols, size=num_sequences)
    tokens = np.empty((num_sequences, k + 1), dtype=np.int64)
    tokens[:, 0] = targets
    tokens[:, 1:] = num_symbols + rng.integers(
        0, num_distractors, size=(num_sequences, k)
    )
    inputs = np.eye(vocabulary, dtype=np.float32)[tokens]
    return inputs, targets.astype(np.int32)


def adding_problem(num_sequences, k, rng):
    """Returns (inputs (n, k, 2), targets (n,)) for sequences of length k >= 2."""
    if k < 2:
        raise ValueError(
            f"k (sequence length) must be >= 2 for the adding problem; got {k}"
        )
    values = rng.random((num_sequences, k), dtype=np.float32)
    half = k // 2
    rows = np.arange(num_sequences)
    first = rng.integers(0, half, size=num_sequences)
    second = rng.integers(half, k, size=num_sequences)
    markers = np.zeros((num_sequences, k), dtype=np.float32)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), targets.astype(np.float32)


def make_task(task, num_sequences, k, rng):
    """Dispatches to the task generator by name."""
    if task == "recall":
        return recall_first_symbol(num_sequences, k, rng)
    if task == "adding":
        return adding_problem(num_sequences, k, rng)
    raise ValueError(f"task must be one of {TASKS}; got {task!r}")


def task_dims(task):
    """(input features, outputs) of a task: classes for recall, 1 for adding."""
    if task == "recall":
        return RECALL_SYMBOLS + RECALL_DISTRACTORS, RECALL_SYMBOLS
    if task == "adding":
        return 2, 1
    raise ValueError(f"task must be one of {TASKS}; got {task!r}")
