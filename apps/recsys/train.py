"""Session-parallel GRU4Rec training with sampled negatives and the papers' losses.

Each training step feeds one event per mini-batch row (session-parallel
batches), backpropagates through that one step (the hidden state carried to
the next step is a constant, as in the papers) and scores every row's output
against the B targets of the mini-batch plus `n_sample` shared extra items
drawn from popularity^`sample_alpha`. Row b's positive is column b.

Speed: the step is traced once (`tf.function` with a fixed input signature)
and runs `steps_per_call` steps per call inside a `tf.while_loop`, so Python
overhead is paid once per chunk; the epoch's batch schedule and its negatives
are precomputed with numpy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time

import numpy as np

from apps.recsys.data import (
    Events,
    ItemIndex,
    NegativeSampler,
    PreprocessConfig,
    SessionParallelIterator,
    Sessions,
    SessionSimulator,
    SimulatorConfig,
    load_events,
    load_yoochoose,
    preprocess,
)

LOSSES = ("cross-entropy", "bpr-max", "top1-max", "bpr", "top1")
OPTIMIZERS = ("adagrad", "adam", "sgd", "rmsprop")


@dataclasses.dataclass
class TrainConfig:
    """All settings of a GRU4Rec run (defaults: the embedded simulation)."""

    # data
    data: str = "simulator"  # "simulator" or the path of an events file
    data_format: str = "auto"  # "events" (CSV/TSV with header), "yoochoose", "auto"
    session_column: str = "SessionId"
    item_column: str = "ItemId"
    time_column: str = "Time"
    simulator_config: str = ""  # JSON of SimulatorConfig fields ("" = defaults)
    test_days: float = 1.0
    min_item_support: int = 5
    max_train_events: int = 0  # keep only the most recent events (0 = all)
    # model
    hidden_units: tuple[int, ...] = (100,)
    embedding: str = "constrained"
    embedding_dim: int = 0
    dropout_input: float = 0.0
    dropout_hidden: float = 0.2
    final_activation: str = "linear"
    # training
    loss: str = "cross-entropy"
    batch_size: int = 64
    n_sample: int = 2048
    sample_alpha: float = 0.5
    sample_store_size: int = 10_000_000
    logq: float = 1.0
    bpreg: float = 1.0
    optimizer: str = "adam"
    learning_rate: float = 0.004
    momentum: float = 0.0
    lr_decay: float = 0.95  # linear decay to learning_rate * (1 - lr_decay)
    epochs: int = 6
    steps_per_call: int = 100
    jit_compile: bool = False  # XLA for the compiled step
    eval_batch_size: int = 256
    threads: int = 1
    seed: int = 0

    def validate(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}"
            )
        for name in ("batch_size", "epochs", "steps_per_call", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_sample < 0:
            raise ValueError(f"n_sample must be >= 0, got {self.n_sample}")
        if not 0.0 <= self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in [0, 1], got {self.lr_decay}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")


# ---------------------------------------------------------------------------
# Data preparation
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class PreparedData:
    train: Sessions
    test: Sessions
    index: ItemIndex
    item_counts: np.ndarray
    simulator: SessionSimulator | None
    summary: dict


def load_simulator_config(path):
    from core.config import load_config

    return load_config(SimulatorConfig, path or None)


def prepare_data(config: TrainConfig) -> PreparedData:
    """Loads or simulates events, preprocesses and splits them as in the papers."""
    simulator = None
    if config.data == "simulator":
        simulator = SessionSimulator(load_simulator_config(config.simulator_config))
        events = simulator.simulate()
    else:
        path = pathlib.Path(config.data)
        data_format = config.data_format
        if data_format == "auto":
            data_format = "yoochoose" if path.suffix == ".dat" else "events"
        if data_format == "yoochoose":
            events = load_yoochoose(path)
        elif data_format == "events":
            events = load_events(
                path, config.session_column, config.item_column, config.time_column
            )
        else:
            raise ValueError(
                f"data_format must be events, yoochoose or auto, got {data_format!r}"
            )
    train_events, test_events = preprocess(
        events,
        PreprocessConfig(
            min_item_support=config.min_item_support, test_days=config.test_days
        ),
    )
    if config.max_train_events and len(train_events) > config.max_train_events:
        train_events = _most_recent(train_events, config.max_train_events)
        keep = np.isin(test_events.item_ids, np.unique(train_events.item_ids))
        test_events = test_events.take(keep)
        lengths = np.unique(test_events.session_ids, return_counts=True)
        long_enough = lengths[0][lengths[1] >= 2]
        test_events = test_events.take(np.isin(test_events.session_ids, long_enough))
    index = ItemIndex.from_events(train_events)
    train = Sessions.from_events(train_events, index)
    test = Sessions.from_events(test_events, index)
    if len(test) == 0:
        raise ValueError("no test sessions left after preprocessing")
    counts = np.bincount(train.items, minlength=len(index)).astype(np.float64)
    summary = {
        "events_loaded": len(events),
        "events_loaded_mb": round(events.nbytes() / 2**20, 1),
        "train_sessions": len(train),
        "train_events": train.n_events,
        "test_sessions": len(test),
        "test_events": test.n_events,
        "test_targets": test.n_targets,
        "items": len(index),
    }
    return PreparedData(train, test, index, counts, simulator, summary)


def _most_recent(events: Events, n_events):
    """The latest whole sessions holding about `n_events` events."""
    sessions, first = np.unique(events.session_ids, return_index=True)
    start = events.times[first]
    order = np.argsort(-start, kind="stable")
    counts = np.unique(events.session_ids, return_counts=True)[1][order]
    keep = sessions[order[: int(np.searchsorted(np.cumsum(counts), n_events)) + 1]]
    return events.take(np.isin(events.session_ids, keep))


# ---------------------------------------------------------------------------
# Losses on the (B, B + S) score matrix; positives on the diagonal
# ---------------------------------------------------------------------------


def _softmax_neg(scores, negative_mask):
    """Softmax over the valid negatives of each row (2018 paper, eq. 5)."""
    import tensorflow as tf

    masked = tf.where(negative_mask, scores, tf.fill(tf.shape(scores), -1e9))
    weights = tf.nn.softmax(masked, axis=1)
    return weights * tf.cast(negative_mask, scores.dtype)


def cross_entropy_loss(scores, negative_mask, log_q=None):
    """Softmax cross-entropy of the positive against the sampled columns.

    `log_q` (B + S,) is subtracted from the logits: the logQ correction of
    sampled softmax (the popularity-biased samples would otherwise push popular
    items down too much).
    """
    import tensorflow as tf

    logits = scores if log_q is None else scores - log_q[None, :]
    batch = tf.shape(scores)[0]
    keep = negative_mask | tf.eye(batch, tf.shape(scores)[1], dtype=tf.bool)
    logits = tf.where(keep, logits, tf.fill(tf.shape(logits), -1e9))
    log_probs = tf.nn.log_softmax(logits, axis=1)
    return -tf.reduce_mean(tf.linalg.diag_part(log_probs))


def bpr_max_loss(scores, negative_mask, bpreg=1.0):
    """-log sum_j s_j sigmoid(r_i - r_j) + bpreg sum_j s_j r_j^2 (2018, eq. 8)."""
    import tensorflow as tf

    positive = tf.linalg.diag_part(scores)[:, None]
    weights = _softmax_neg(scores, negative_mask)
    ranking = tf.reduce_sum(weights * tf.sigmoid(positive - scores), axis=1)
    regularisation = tf.reduce_sum(weights * tf.square(scores), axis=1)
    return tf.reduce_mean(-tf.math.log(ranking + 1e-24) + bpreg * regularisation)


def top1_max_loss(scores, negative_mask):
    """sum_j s_j (sigmoid(r_j - r_i) + sigmoid(r_j^2)) (2018, eq. 6)."""
    import tensorflow as tf

    positive = tf.linalg.diag_part(scores)[:, None]
    weights = _softmax_neg(scores, negative_mask)
    terms = tf.sigmoid(scores - positive) + tf.sigmoid(tf.square(scores))
    return tf.reduce_mean(tf.reduce_sum(weights * terms, axis=1))


def _mean_over_negatives(terms, negative_mask):
    import tensorflow as tf

    mask = tf.cast(negative_mask, terms.dtype)
    per_row = tf.reduce_sum(terms * mask, axis=1) / tf.maximum(
        tf.reduce_sum(mask, axis=1), 1.0
    )
    return tf.reduce_mean(per_row)


def bpr_loss(scores, negative_mask):
    """-mean_j log sigmoid(r_i - r_j) (2016, section 3.1.2)."""
    import tensorflow as tf

    positive = tf.linalg.diag_part(scores)[:, None]
    return _mean_over_negatives(-tf.math.log_sigmoid(positive - scores), negative_mask)


def top1_loss(scores, negative_mask):
    """mean_j sigmoid(r_j - r_i) + sigmoid(r_j^2) (2016, section 3.1.2)."""
    import tensorflow as tf

    positive = tf.linalg.diag_part(scores)[:, None]
    terms = tf.sigmoid(scores - positive) + tf.sigmoid(tf.square(scores))
    return _mean_over_negatives(terms, negative_mask)


def negative_mask_for(targets, sample_ids):
    """Valid negatives: every column whose item differs from the row's target.

    This drops the positive (the diagonal) and in-batch duplicates of the
    target (another row wanting the same item is not a negative).
    """
    import tensorflow as tf

    return tf.not_equal(targets[:, None], sample_ids[None, :])


# ---------------------------------------------------------------------------
# Trainer
# ---------------------------------------------------------------------------


def _adagrad_momentum_class():
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="rnn_demos")
    class AdagradMomentum(keras.optimizers.Optimizer):
        """Adagrad with momentum, the optimiser of the official GRU4Rec code.

        acc += g^2;  v = momentum * v + lr * g / sqrt(acc + epsilon);  w -= v.
        Row-sparse gradients (`tf.IndexedSlices`, from the item-embedding
        lookups) update only the touched rows, as the official code does, so a
        step costs O(rows touched), not O(n_items): this is what keeps a 37k-item
        catalogue fast. Dense gradients update everything.
        """

        def __init__(
            self,
            learning_rate=0.1,
            momentum=0.0,
            epsilon=1e-6,
            name="adagrad_momentum",
            **kwargs,
        ):
            super().__init__(learning_rate=learning_rate, name=name, **kwargs)
            self.momentum = momentum
            self.epsilon = epsilon

        def build(self, variables):
            if self.built:
                return
            super().build(variables)
            self._accumulators = [
                self.add_variable_from_reference(v, "accumulator") for v in variables
            ]
            self._velocities = (
                [self.add_variable_from_reference(v, "velocity") for v in variables]
                if self.momentum
                else []
            )

        def update_step(self, gradient, variable, learning_rate):
            import tensorflow as tf

            if isinstance(gradient, tf.IndexedSlices):
                return self._sparse_update_step(gradient, variable, learning_rate)
            index = self._get_variable_index(variable)
            learning_rate = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)
            accumulator = self._accumulators[index]
            self.assign_add(accumulator, ops.square(gradient))
            step = learning_rate * gradient / ops.sqrt(accumulator + self.epsilon)
            if self.momentum:
                velocity = self._velocities[index]
                self.assign(velocity, self.momentum * velocity + step)
                step = velocity
            self.assign_sub(variable, step)

        def _sparse_update_step(self, gradient, variable, learning_rate):
            import tensorflow as tf

            index = self._get_variable_index(variable)
            rows, position = tf.unique(gradient.indices)
            values = tf.math.unsorted_segment_sum(
                tf.cast(gradient.values, variable.dtype), position, tf.shape(rows)[0]
            )
            learning_rate = tf.cast(learning_rate, variable.dtype)
            accumulator = self._accumulators[index]
            accumulated = accumulator.value.sparse_read(rows) + tf.square(values)
            self.assign(accumulator, tf.IndexedSlices(accumulated, rows))
            step = learning_rate * values / tf.sqrt(accumulated + self.epsilon)
            if self.momentum:
                velocity = self._velocities[index]
                step = self.momentum * velocity.value.sparse_read(rows) + step
                self.assign(velocity, tf.IndexedSlices(step, rows))
            self.assign_sub(variable, tf.IndexedSlices(step, rows))

        def get_config(self):
            return {
                **super().get_config(),
                "momentum": self.momentum,
                "epsilon": self.epsilon,
            }

    return AdagradMomentum


_OPTIMIZER_CLASSES = {}


def make_optimizer(config: TrainConfig, total_steps=None):
    """The configured optimiser; with `lr_decay` > 0 and `total_steps`, the
    learning rate falls linearly to learning_rate * (1 - lr_decay)."""
    import keras

    learning_rate = config.learning_rate
    if config.lr_decay and total_steps:
        learning_rate = keras.optimizers.schedules.PolynomialDecay(
            config.learning_rate,
            decay_steps=int(total_steps),
            end_learning_rate=config.learning_rate * (1.0 - config.lr_decay),
        )
    if config.optimizer == "adagrad":
        if "adagrad" not in _OPTIMIZER_CLASSES:
            _OPTIMIZER_CLASSES["adagrad"] = _adagrad_momentum_class()
        return _OPTIMIZER_CLASSES["adagrad"](
            learning_rate=learning_rate, momentum=config.momentum
        )
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(
            learning_rate=learning_rate, momentum=config.momentum
        )
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=config.momentum)


def build_model(config: TrainConfig, n_items):
    from apps.recsys.model import GRU4Rec

    return GRU4Rec(
        n_items,
        hidden_units=config.hidden_units,
        embedding=config.embedding,
        embedding_dim=config.embedding_dim,
        dropout_input=config.dropout_input,
        dropout_hidden=config.dropout_hidden,
        final_activation=config.final_activation,
    )


class SessionParallelTrainer:
    """Owns the model, optimizer, hidden state variable and the compiled step.

    Args:
        model: a `GRU4Rec`.
        config: `TrainConfig` (loss, batch size, sampling, optimizer).
        item_counts: training count per item (sampling distribution, logQ).
        compiled: False runs the same step eagerly (benchmark baseline).
    """

    def __init__(
        self, model, config: TrainConfig, item_counts, compiled=True, total_steps=None
    ):
        import tensorflow as tf

        config.validate()
        self.model = model
        self.config = config
        self.optimizer = make_optimizer(config, total_steps)
        self.optimizer.build(model.trainable_variables)
        batch = config.batch_size
        self.hidden = [
            tf.Variable(tf.zeros((batch, units)), trainable=False)
            for units in model.hidden_units
        ]
        self.sampler = NegativeSampler(
            item_counts,
            config.n_sample,
            alpha=config.sample_alpha,
            store_size=config.sample_store_size,
            seed=config.seed,
        )
        self.log_sample_probability = tf.constant(
            np.log(np.maximum(self.sampler.probabilities, 1e-30)), tf.float32
        )
        self.traces = 0
        signature = [
            tf.TensorSpec((None, batch), tf.int32),
            tf.TensorSpec((None, batch), tf.int32),
            tf.TensorSpec((None, batch), tf.bool),
            tf.TensorSpec((None, config.n_sample), tf.int32),
        ]
        if compiled:
            self._run = tf.function(
                self._steps, input_signature=signature, jit_compile=config.jit_compile
            )
        else:
            self._run = self._steps_eager

    def _loss(self, scores, targets, sample_ids):
        config = self.config
        negatives = negative_mask_for(targets, sample_ids)
        if config.loss == "cross-entropy":
            import tensorflow as tf

            log_q = None
            if config.logq:
                log_q = config.logq * tf.gather(self.log_sample_probability, sample_ids)
            return cross_entropy_loss(scores, negatives, log_q)
        if config.loss == "bpr-max":
            return bpr_max_loss(scores, negatives, config.bpreg)
        if config.loss == "top1-max":
            return top1_max_loss(scores, negatives)
        if config.loss == "bpr":
            return bpr_loss(scores, negatives)
        return top1_loss(scores, negatives)

    def _step(self, inputs, targets, reset, negatives):
        import tensorflow as tf

        keep = 1.0 - tf.cast(reset, tf.float32)[:, None]
        states = [variable * keep for variable in self.hidden]
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            output, new_states = self.model.step(inputs, states, training=True)
            sample_ids = tf.concat([targets, negatives], axis=0)
            scores = self.model.score_items(output, sample_ids)
            loss = self._loss(scores, targets, sample_ids)
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply(gradients, variables)
        for variable, state in zip(self.hidden, new_states, strict=True):
            variable.assign(state)
        return loss

    def _steps(self, inputs, targets, reset, negatives):
        import tensorflow as tf

        self.traces += 1  # Python side effect: counts traces, not calls
        total = tf.constant(0.0)
        count = tf.shape(inputs)[0]
        for t in tf.range(count):
            total += self._step(inputs[t], targets[t], reset[t], negatives[t])
        return total / tf.cast(tf.maximum(count, 1), tf.float32)

    def _steps_eager(self, inputs, targets, reset, negatives):
        total = 0.0
        for t in range(len(inputs)):
            total += float(self._step(inputs[t], targets[t], reset[t], negatives[t]))
        return total / max(1, len(inputs))

    def reset_states(self):
        for variable in self.hidden:
            variable.assign(np.zeros(variable.shape, np.float32))

    def train_epoch(self, sessions: Sessions, max_steps=None, log=None):
        """One pass over `sessions`; returns (mean loss, events, seconds)."""
        iterator = SessionParallelIterator(sessions, self.config.batch_size)
        inputs, targets, reset = iterator.schedule()
        if max_steps is not None:
            inputs, targets, reset = (
                inputs[:max_steps],
                targets[:max_steps],
                reset[:max_steps],
            )
        n_steps = len(inputs)
        if n_steps == 0:
            raise ValueError(
                f"no training step: {len(sessions)} sessions < batch_size "
                f"{self.config.batch_size}"
            )
        self.reset_states()
        negatives = self.sampler.sample(n_steps)
        chunk = self.config.steps_per_call
        losses = []
        started = time.perf_counter()
        for first in range(0, n_steps, chunk):
            part = slice(first, first + chunk)
            loss = float(
                self._run(inputs[part], targets[part], reset[part], negatives[part])
            )
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"loss became {loss} at step {first}; lower the learning rate"
                )
            losses.append((loss, len(inputs[part])))
            if log and (first // chunk) % 50 == 0:
                log(f"  step {first}/{n_steps} loss {loss:.4f}")
        seconds = time.perf_counter() - started
        mean = sum(value * size for value, size in losses) / n_steps
        return mean, n_steps * self.config.batch_size, seconds


class GRU4RecScorer:
    """Evaluation scorer: full-catalogue scores, one compiled step per batch.

    Follows the `evaluate.py` scorer protocol (`start`, `step`).
    """

    name = "GRU4Rec"

    def __init__(self, model):
        import tensorflow as tf

        self.model = model

        def step(items, reset, states):
            keep = 1.0 - tf.cast(reset, tf.float32)[:, None]
            states = [state * keep for state in states]
            output, new_states = model.step(items, states, training=False)
            return model.score_all(output), new_states

        self._step = tf.function(step, reduce_retracing=True, autograph=False)

    def start(self, batch_size):
        import tensorflow as tf

        self.states = [
            tf.zeros((batch_size, units)) for units in self.model.hidden_units
        ]

    def step(
        self,
        items,
        reset,
    ):
        scores, self.states = self._step(
            np.asarray(items, np.int32), np.asarray(reset, bool), self.states
        )
        return scores.numpy()


def train(config: TrainConfig, out_dir, log=print, evaluate=True):
    """Full run: data, model, epochs, evaluation; writes the run folder.

    Returns the metrics dict (also written to `out_dir/metrics.json`).
    """
    from apps.recsys.evaluate import evaluate_scorer
    from core.runs import RunDir, configure_threads, save_model_atomic, set_seed

    config.validate()
    configure_threads(intra_op=config.threads, inter_op=1)
    set_seed(config.seed)
    data = prepare_data(config)  # bad input fails here, before any file is written
    run = RunDir(out_dir)
    run.write_config(config)
    if data.simulator is not None:
        data.simulator.save(run.path / "simulator.json")
    log(f"data: {json.dumps(data.summary)}")
    model = build_model(config, len(data.index))
    steps_per_epoch = len(
        SessionParallelIterator(data.train, config.batch_size).schedule()[0]
    )
    trainer = SessionParallelTrainer(
        model, config, data.item_counts, total_steps=steps_per_epoch * config.epochs
    )
    history = []
    for epoch in range(config.epochs):
        loss, events, seconds = trainer.train_epoch(data.train)
        history.append(
            {"epoch": epoch + 1, "loss": loss, "events_per_second": events / seconds}
        )
        log(
            f"epoch {epoch + 1}/{config.epochs} loss {loss:.4f} "
            f"{events / seconds:,.0f} events/s ({seconds:.1f} s)"
        )
    model_path = run.path / "model.keras"
    save_model_atomic(model, model_path)
    save_catalogue(run.path / "catalogue.npz", data.index, data.item_counts)
    metrics = {"data": data.summary, "history": history, "traces": trainer.traces}
    if evaluate:
        metrics["test"] = evaluate_scorer(
            GRU4RecScorer(model), data.test, batch_size=config.eval_batch_size
        )
        log(
            "test: "
            + ", ".join(f"{k} {v:.4f}" for k, v in metrics["test"].items() if "@" in k)
        )
    run.write_metrics(metrics)
    return metrics


def save_catalogue(path, index: ItemIndex, item_counts):
    """Raw item ids and training counts beside the model (ids are int64)."""
    import os
    import tempfile

    path = pathlib.Path(path)
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(handle)
    try:
        np.savez(temp, item_ids=index.item_ids, item_counts=item_counts)
        os.replace(temp, path)
    finally:
        pathlib.Path(temp).unlink(missing_ok=True)


def load_catalogue(path):
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: catalogue file not found (saved by train)")
    with np.load(path) as stored:
        return ItemIndex(stored["item_ids"]), stored["item_counts"].astype(np.float64)
