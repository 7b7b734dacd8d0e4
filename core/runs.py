"""Run utilities: seeds, run folders, atomic writes, checkpoints, strategies.

A run folder holds everything needed to understand and repeat a run:

    out/<run>/config.json     the resolved config (defaults + file + overrides)
    out/<run>/metrics.json    the measured results
    out/<run>/model.keras     the latest checkpoint (written atomically)
    out/<run>/backup/         `keras.callbacks.BackupAndRestore` state, to resume

Every write goes to a temporary file in the same folder and is then renamed
over the target (`os.replace` is atomic on POSIX), so a crash mid-write never
destroys the previous checkpoint.
"""

import contextlib
import json
import os
import pathlib
import tempfile

import keras

from core.config import to_dict

STRATEGIES = ("default", "mirrored", "multi-worker")


def set_seed(seed):
    """Seeds Python, NumPy and the backend once per run."""
    keras.utils.set_random_seed(int(seed))


def configure_threads(intra_op=2, inter_op=1):
    """Limits TensorFlow's thread pools; small models on 2 cores suffer from
    oversubscription. Call before any TF op runs (later calls are ignored)."""
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    with contextlib.suppress(RuntimeError):  # already initialised: keep its pools
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)


@contextlib.contextmanager
def _atomic_path(path, suffix=""):
    """Yields a temporary path beside `path`; renames it over `path` on success."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=suffix or path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        yield pathlib.Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text_atomic(path, text):
    with _atomic_path(path) as temporary:
        temporary.write_text(text)


def write_json_atomic(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_model_atomic(model, path):
    """Saves a `.keras` file without ever leaving a half-written one at `path`."""
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"model path must end in .keras; got {path}")
    with _atomic_path(path, suffix=".keras") as temporary:
        model.save(temporary)


def load_model(path, custom_objects=None):
    """Loads a `.keras` file in safe mode, with a clear error if it is missing."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} not found")
    if path.suffix != ".keras":
        raise ValueError(f"model file {path} must be a .keras file")
    return keras.models.load_model(path, custom_objects=custom_objects, safe_mode=True)


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves `self.model` atomically at the end of each epoch (and keeps the best
    one by `monitor` if given)."""

    def __init__(self, path, monitor=None, mode="min"):
        super().__init__()
        self.path = pathlib.Path(path)
        self.monitor = monitor
        self.mode = mode
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor is None:
            save_model_atomic(self.model, self.path)
            return
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        better = self.best is None or (
            value < self.best if self.mode == "min" else value > self.best
        )
        if better:
            self.best = value
            save_model_atomic(self.model, self.path)


class RunDir:
    """A run's folder: config, seed, metrics, checkpoints and resume state."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def model_path(self):
        return self.path / "model.keras"

    @property
    def backup_dir(self):
        return self.path / "backup"

    def write_config(self, config, seed=None):
        values = to_dict(config) if not isinstance(config, dict) else dict(config)
        if seed is not None:
            values["seed"] = seed
        write_json_atomic(self.path / "config.json", values)

    def write_metrics(self, metrics):
        write_json_atomic(self.path / "metrics.json", metrics)

    def callbacks(self, monitor=None):
        """Atomic per-epoch checkpoint + BackupAndRestore (resume after a crash)."""
        return [
            AtomicCheckpoint(self.model_path, monitor=monitor),
            keras.callbacks.BackupAndRestore(str(self.backup_dir)),
        ]


def add_strategy_argument(parser):
    """Adds `--strategy {default,mirrored,multi-worker}` to a parser."""
    parser.add_argument(
        "--strategy",
        default="default",
        help=f"tf.distribute strategy, one of {', '.join(STRATEGIES)}",
    )


def get_strategy(name="default"):
    """Returns a `tf.distribute` strategy by name.

    "default": no distribution; "mirrored": synchronous data parallel over the
    local devices (GPUs, or logical CPU devices); "multi-worker": synchronous
    over several machines described by the TF_CONFIG environment variable.
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {STRATEGIES}; got {name!r}")
    if keras.backend.backend() != "tensorflow":
        if name != "default":
            raise ValueError(
                f"--strategy {name} needs the TensorFlow backend; "
                f"KERAS_BACKEND is {keras.backend.backend()!r}"
            )
        return None
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def strategy_scope(strategy):
    """`strategy.scope()`, or a no-op context where there is none (non-TF)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()
