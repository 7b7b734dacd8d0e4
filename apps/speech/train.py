"""Train the CTC speech model on a corpus manifest.

Example:
    rnn-demos speech train --set train_manifest=out/speech/corpus/train.jsonl \
        --set run_dir=out/speech/run --set epochs=30
"""

import dataclasses
import logging
import time

import keras

from apps.speech import data
from apps.speech import features as features_lib
from apps.speech import lm as lm_lib
from apps.speech import model as model_lib
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
    train_set = data.FeatureBatches(
        train_items,
        config.batch_size,
        augment=augment,
        seed=config.seed,
        pad_frames=config.pad_frames,
    )
    valid_set = data.FeatureBatches(
        valid_items, config.batch_size, shuffle=False, pad_frames=config.pad_frames
    )
    return train_set, valid_set


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
    model = compile_model(model_lib.build_model(model_config(config)), config)
    log.info("model %s: %d parameters", model.name, model.count_params())
    logger = LogEpoch()
    start = time.monotonic()
    model.fit(
        train_set,
        validation_data=valid_set,
        epochs=config.epochs,
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


def export_inference_model(checkpoint, path, config) -> None:
    """Saves the checkpoint's weights in an uncompiled model: no optimizer
    state, a third of the size, for shipping."""
    trained = runs.load_model(checkpoint)
    model = model_lib.build_model(model_config(config))
    model.set_weights(trained.get_weights())
    runs.save_model_atomic(model, path)
