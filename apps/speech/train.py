"""Train the CTC speech model on a corpus manifest.

Example:
    rnn-demos speech train --set train_manifest=out/speech/corpus/train.jsonl \
        --set run_dir=out/speech/run --set epochs=30
"""

import dataclasses
import logging
import time

import keras
import numpy as np

from apps.speech import data
from apps.speech import features as features_lib
from apps.speech import lm as lm_lib
from apps.speech import model as model_lib
from apps.speech import text as text_lib
from core import runs

log = logging.getLogger("apps.speech")


@dataclasses.dataclass
class TrainConfig(model_lib.ModelConfig):
    """Data and optimisation fields of one training run, plus the model's
    (inherited from `ModelConfig`, so `--set units=...` reaches the model)."""

    train_manifest: str = "out/speech/corpus/train.jsonl"
    valid_manifest: str = "out/speech/corpus/valid.jsonl"
    run_dir: str = "out/speech/run"
    train_features: str = ""
    valid_features: str = ""
    pad_frames: int = 128
    seed: int = 7
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    clipnorm: float = 5.0
    max_train: int = 0
    max_minutes: float = 0.0
    # a .keras model of the same architecture to start from (fine-tuning)
    init_model: str = ""
    augment: bool = True
    threads: int = 2
    lm_order: int = 3


def model_config(config) -> model_lib.ModelConfig:
    names = {field.name for field in dataclasses.fields(model_lib.ModelConfig)}
    return model_lib.ModelConfig(**{name: getattr(config, name) for name in names})


class TimeLimit(keras.callbacks.Callback):
    """Stops training after `minutes` of wall time (0: no limit)."""

    def __init__(self, minutes):
        super().__init__()
        self.minutes = minutes
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if self.minutes and time.monotonic() - self.start > 60 * self.minutes:
            self.model.stop_training = True


class LogEpoch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.start = time.monotonic()
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: round(float(value), 4) for key, value in (logs or {}).items()}
        self.history.append({"epoch": epoch + 1, **logs})
        log.info("epoch %d %s (%.0f s)", epoch + 1, logs, time.monotonic() - self.start)


def fit_language_model(records, order=3) -> lm_lib.NgramLM:
    """The word n-gram LM (and lexicon) of the training transcripts."""
    return lm_lib.NgramLM(order=order).fit(record["text"] for record in records)


def _audio_datasets(config, run, augment):
    """tf.data pipelines over audio, augmented afresh every epoch."""
    train_records = data.load_records(config.train_manifest)
    if config.max_train:
        train_records = train_records[: config.max_train]
    valid_records = data.load_records(config.valid_manifest)
    log.info(
        "loading %d train / %d valid files", len(train_records), len(valid_records)
    )
    fit_language_model(train_records, config.lm_order).save(run.path / "lm.json")
    train_records = data.load_audio_records(train_records, log=log.info)
    valid_records = data.load_audio_records(valid_records)
    train_set = data.make_dataset(
        train_records, batch_size=config.batch_size, augment=augment, seed=config.seed
    )
    valid_set = data.make_dataset(
        valid_records, batch_size=config.batch_size, shuffle=False
    )
    return train_set, valid_set


def _feature_datasets(config, run, augment):
    """Batches of precomputed features (`data.export_features`); any backend."""
    train_items = data.load_features(config.train_features)
    if config.max_train:
        train_items = train_items[: config.max_train]
    valid_items = data.load_features(config.valid_features)
    log.info(
        "%d train / %d valid feature sequences", len(train_items), len(valid_items)
    )
    texts = [{"text": text} for _, text in train_items]
    fit_language_model(texts, config.lm_order).save(run.path / "lm.json")
    train_set = FeatureBatches(
        train_items,
        config.batch_size,
        augment=augment,
        seed=config.seed,
        pad_frames=config.pad_frames,
    )
    valid_set = FeatureBatches(
        valid_items, config.batch_size, shuffle=False, pad_frames=config.pad_frames
    )
    if keras.backend.backend() == "tensorflow":
        return train_set.as_tf_dataset(), valid_set.as_tf_dataset()
    return train_set, valid_set


class FeatureBatches(keras.utils.PyDataset):
    """Bucketed, padded batches of precomputed features for `model.fit` on any
    Keras backend (on TensorFlow through `as_tf_dataset`). Frames are padded up
    to a multiple of `pad_frames` and labels to `max_label` so that few shapes
    get compiled.
    """

    def __init__(
        self,
        items,
        batch_size=64,
        augment=None,
        shuffle=True,
        seed=0,
        pad_frames=128,
        max_label=96,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.items = [
            (f, text_lib.encode(t))
            for f, t in items
            if 0 < len(t) <= min(max_label, f.shape[0] // 2 - 1)
        ]
        self.batch_size = batch_size
        self.augment = augment
        self.shuffle = shuffle
        self.pad_frames = pad_frames
        self.max_label = max_label
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def on_epoch_end(self):
        order = np.argsort([f.shape[0] for f, _ in self.items], kind="stable")
        if self.shuffle:
            # sort by length with jitter, cut into batches, shuffle the batches
            jitter = self.rng.uniform(0, 20, size=len(self.items))
            order = np.argsort(
                [f.shape[0] + j for (f, _), j in zip(self.items, jitter, strict=True)]
            )
        batches = [
            order[i : i + self.batch_size]
            for i in range(0, len(order), self.batch_size)
        ]
        if self.shuffle:
            # full batches only: every distinct shape costs a compilation
            batches = [b for b in batches if len(b) == self.batch_size] or batches
            self.rng.shuffle(batches)
        self.batches = batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        chosen = [self.items[i] for i in self.batches[index]]
        longest = max(f.shape[0] for f, _ in chosen)
        frames = int(np.ceil(longest / self.pad_frames) * self.pad_frames)
        x = np.zeros((len(chosen), frames, features_lib.NUM_MELS), np.float32)
        y = np.zeros((len(chosen), self.max_label), np.int32)
        for row, (feats, labels) in enumerate(chosen):
            if self.augment is not None:
                feats = features_lib.spec_augment(feats, self.augment, self.rng)
            x[row, : feats.shape[0]] = feats
            y[row, : labels.size] = labels
        return x, y

    def as_tf_dataset(self):
        """The same batches as a `tf.data.Dataset` with a (None, None, 80)
        signature: Keras' own PyDataset adapter on TensorFlow fixes the frame
        count of the first batch it sees and fails on the next length."""
        import tensorflow as tf

        def generate():
            for index in range(len(self)):
                yield self[index]
            self.on_epoch_end()

        dataset = tf.data.Dataset.from_generator(
            generate,
            output_signature=(
                tf.TensorSpec((None, None, features_lib.NUM_MELS), tf.float32),
                tf.TensorSpec((None, self.max_label), tf.int32),
            ),
        )
        # Batches per epoch are known: say so, or Keras warns at every epoch end.
        cardinality = tf.data.experimental.assert_cardinality(len(self))
        return dataset.apply(cardinality).prefetch(2)


def compile_model(model, config):
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm),
        loss=keras.losses.CTC(),
        # No XLA on TensorFlow: bucketing gives many input shapes, and XLA
        # compiles once per shape (REFERENCES: no steady-state gain on CPU).
        # JAX needs its jit.
        jit_compile=False if keras.backend.backend() == "tensorflow" else "auto",
    )
    return model


def train(config: TrainConfig) -> dict:
    """Trains and returns the metrics; the run folder gets config, model, metrics."""
    runs.configure_threads(config.threads, 1)
    runs.set_seed(config.seed)
    run = runs.RunDir(config.run_dir)
    run.write_config(config)
    augment = features_lib.AugmentConfig() if config.augment else None
    if config.train_features:
        train_set, valid_set = _feature_datasets(config, run, augment)
    else:
        train_set, valid_set = _audio_datasets(config, run, augment)
    model = model_lib.build_model(model_config(config))
    if config.init_model:
        load_initial_weights(model, config.init_model)
    model = compile_model(model, config)
    log.info("model %s: %d parameters", model.name, model.count_params())
    logger = LogEpoch()
    start = time.monotonic()
    model.fit(
        train_set,
        validation_data=valid_set,
        epochs=config.epochs,
        shuffle=False,  # the pipelines shuffle (by length bucket) themselves
        verbose=0,
        callbacks=[
            *run.callbacks(monitor="val_loss"),
            logger,
            keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=2),
            TimeLimit(config.max_minutes),
        ],
    )
    metrics = {
        "epochs_run": len(logger.history),
        "train_seconds": round(time.monotonic() - start, 1),
        "parameters": int(model.count_params()),
        "history": logger.history,
        "best_val_loss": min(
            (h.get("val_loss", float("inf")) for h in logger.history), default=None
        ),
        "final_loss": logger.history[-1]["loss"] if logger.history else None,
    }
    if run.model_path.exists():
        export_inference_model(run.model_path, run.path / "inference.keras", config)
    run.write_metrics(metrics)
    return metrics


def load_initial_weights(model, path) -> None:
    """Copies the weights of the model saved at `path` into `model`."""
    start = runs.load_model(path)
    mine = [tuple(w.shape) for w in model.weights]
    theirs = [tuple(w.shape) for w in start.weights]
    if mine != theirs:
        raise ValueError(
            f"init_model {path}: its {len(theirs)} weight arrays do not match the "
            f"{len(mine)} of this config's model; expected the same architecture"
        )
    model.set_weights(start.get_weights())
    log.info("initialised from %s", path)


def export_inference_model(checkpoint, path, config) -> None:
    """Saves the checkpoint's weights in an uncompiled model: no optimizer
    state, a third of the size, for shipping."""
    trained = runs.load_model(checkpoint)
    model = model_lib.build_model(model_config(config))
    model.set_weights(trained.get_weights())
    runs.save_model_atomic(model, path)
