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
from apps.speech import model as model_lib
from core import runs

log = logging.getLogger("apps.speech")


@dataclasses.dataclass
class TrainConfig:
    """Data, optimisation and model fields of one training run."""

    train_manifest: str = "out/speech/corpus/train.jsonl"
    valid_manifest: str = "out/speech/corpus/valid.jsonl"
    run_dir: str = "out/speech/run"
    seed: int = 7
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    clipnorm: float = 5.0
    max_train: int = 0
    max_minutes: float = 0.0
    augment: bool = True
    threads: int = 2
    # model
    conv_filters: tuple[int, ...] = (32, 32)
    conv_kernel_size: tuple[int, ...] = (7, 11)
    time_strides: tuple[int, ...] = (2, 1)
    freq_strides: tuple[int, ...] = (2, 2)
    cell_type: str = "gru"
    units: int = 128
    num_layers: int = 3
    dropout: float = 0.1
    conv_only_extra_conv: int = 0


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
        log.info("epoch %d %s (%.0f s)", epoch + 1, logs,
                 time.monotonic() - self.start)


def compile_model(model, config):
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm),
        loss=keras.losses.CTC(),
    )
    return model


def train(config: TrainConfig) -> dict:
    """Trains and returns the metrics; the run folder gets config, model, metrics."""
    runs.configure_threads(config.threads, 1)
    runs.set_seed(config.seed)
    run = runs.RunDir(config.run_dir)
    run.write_config(config)
    train_records = data.load_records(config.train_manifest)
    if config.max_train:
        train_records = train_records[: config.max_train]
    valid_records = data.load_records(config.valid_manifest)
    log.info("loading %d train / %d valid files", len(train_records),
             len(valid_records))
    train_records = data.load_audio_records(train_records, log=log.info)
    valid_records = data.load_audio_records(valid_records)
    augment = features_lib.AugmentConfig() if config.augment else None
    train_set = data.make_dataset(train_records, batch_size=config.batch_size,
                                  augment=augment, seed=config.seed)
    valid_set = data.make_dataset(valid_records, batch_size=config.batch_size,
                                  shuffle=False)
    model = compile_model(model_lib.build_model(model_config(config)), config)
    log.info("model %s: %d parameters", model.name, model.count_params())
    logger = LogEpoch()
    start = time.monotonic()
    model.fit(train_set, validation_data=valid_set, epochs=config.epochs,
              verbose=0,
              callbacks=[*run.callbacks(monitor="val_loss"), logger,
                         keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=2),
                         TimeLimit(config.max_minutes)])
    metrics = {
        "epochs_run": len(logger.history),
        "train_seconds": round(time.monotonic() - start, 1),
        "parameters": int(model.count_params()),
        "history": logger.history,
        "best_val_loss": min((h.get("val_loss", float("inf"))
                              for h in logger.history), default=None),
        "final_loss": logger.history[-1]["loss"] if logger.history else None,
    }
    run.write_metrics(metrics)
    return metrics
