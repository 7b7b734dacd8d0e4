"""Training one setting on one task at one lag, with a fixed budget.

Every setting gets the same budget: the same number of parameters (about), the
same training sequences, epochs, optimiser and learning rate. Training stops
early once the validation set is solved (so easy cases finish fast), and the
final score is measured on a separate test set.
"""

import dataclasses
import pathlib
import time

import keras
import numpy as np

from apps.lesson.data import ADDING_TRIVIAL_MSE, TASKS, make_task, task_dims
from apps.lesson.model import SETTINGS, build_model, units_for_budget
from core.runs import set_seed, strategy_scope

# "Solved": accuracy >= 95% (recall), or MSE below 10% of the trivial
# predictor's (adding).
SOLVED_ACCURACY = 0.95
SOLVED_MSE_FRACTION = 0.10
# Training stops early once the validation set beats the threshold with a
# margin, so that a model stopped right at it does not fail on the test set.
STOP_ACCURACY = 0.98
STOP_MSE_FRACTION = 0.08


@dataclasses.dataclass
class LessonConfig:
    """The experiment grid and the per-run training budget."""

    tasks: tuple[str, ...] = TASKS
    settings: tuple[str, ...] = SETTINGS
    lags: tuple[int, ...] = (10, 20, 50, 100, 200)
    seeds: tuple[int, ...] = (0, 1, 2)
    # Recurrent-layer parameters per setting: LSTM with 32 units on recall.
    parameter_budget: int = 5248
    train_sequences: int = 4000
    validation_sequences: int = 500
    test_sequences: int = 1000
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    clipnorm: float = 1.0
    # Skip larger lags for a (setting, task, seed) once one lag fails.
    stop_at_first_failure: bool = True
    # Curriculum: each lag continues training the model of the previous lag
    # (same setting, task, seed) instead of starting from scratch.
    curriculum: bool = False
    # Gradient decay: lags 1..gradient_lags, on models trained on recall at this k.
    gradient_lags: int = 200
    gradient_train_lag: int = 20
    gradient_batch: int = 64


# `--quick` (and `rnn-demos demo`) use configs/quick.json; the defaults above
# are the full experiment.
QUICK_CONFIG = pathlib.Path(__file__).parent / "configs" / "quick.json"


def score_name(task):
    return "accuracy" if task == "recall" else "mse_ratio"


def is_solved(task, score):
    if task == "recall":
        return score >= SOLVED_ACCURACY
    return score <= SOLVED_MSE_FRACTION


class StopWhenSolved(keras.callbacks.Callback):
    """Stops training once the validation score clears the solved threshold
    with a margin (STOP_ACCURACY, STOP_MSE_FRACTION)."""

    def __init__(self, task):
        super().__init__()
        self.task = task
        self.epochs_run = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_run = epoch + 1
        logs = logs or {}
        if self.task == "recall":
            done = logs.get("val_accuracy", 0.0) >= STOP_ACCURACY
        else:
            done = (
                logs.get("val_loss", np.inf) / ADDING_TRIVIAL_MSE <= STOP_MSE_FRACTION
            )
        if done:
            self.model.stop_training = True


def evaluate_score(model, task, inputs, targets):
    """Test accuracy (recall) or MSE / trivial MSE (adding)."""
    # A direct call: `predict` would trace a new function for every model.
    outputs = keras.ops.convert_to_numpy(model(inputs, training=False))
    if task == "recall":
        return float(np.mean(np.argmax(outputs, axis=-1) == targets))
    return float(np.mean((outputs[:, 0] - targets) ** 2) / ADDING_TRIVIAL_MSE)


def compile_model(model, task, config):
    optimizer = keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm)
    if task == "recall":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    else:
        model.compile(optimizer=optimizer, loss="mse")


def new_model(setting, task, config):
    input_dim, _ = task_dims(task)
    units = units_for_budget(setting, input_dim, config.parameter_budget)
    return build_model(setting, task, units)


def train_one(setting, task, k, seed, config, strategy=None, model=None):
    """Trains one model; returns (row dict, trained model).

    The data are drawn from a generator seeded by (seed, k) so that every
    setting sees the same sequences. `strategy` is a `tf.distribute` strategy
    (see `core.runs.get_strategy`) or None. `model`, if given, is a compiled
    model to keep training (curriculum) instead of a new one.
    """
    set_seed(seed)
    rng = np.random.default_rng([seed, k])
    x_train, y_train = make_task(task, config.train_sequences, k, rng)
    x_val, y_val = make_task(task, config.validation_sequences, k, rng)
    x_test, y_test = make_task(task, config.test_sequences, k, rng)
    if model is None:
        with strategy_scope(strategy):
            model = new_model(setting, task, config)
            compile_model(model, task, config)
    stopper = StopWhenSolved(task)
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=config.epochs,
        batch_size=config.batch_size,
        callbacks=[stopper],
        verbose=0,
    )
    seconds = time.perf_counter() - start
    score = evaluate_score(model, task, x_test, y_test)
    row = {
        "task": task,
        "setting": setting,
        "k": k,
        "seed": seed,
        "units": model.get_layer("rnn").cell.units,
        "parameters": model.count_params(),
        "metric": score_name(task),
        "score": round(score, 4),
        "solved": is_solved(task, score),
        "epochs": stopper.epochs_run,
        "seconds": round(seconds, 1),
    }
    return row, model
