import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from core import runs
from core.runs import RunDir, get_strategy, load_model, save_model_atomic


def _model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


def test_run_dir_writes_config_and_metrics(tmp_path):
    run = RunDir(tmp_path / "run")
    run.write_config({"units": 3}, seed=7)
    run.write_metrics({"loss": 0.5})
    assert json.loads((run.path / "config.json").read_text()) == {"units": 3, "seed": 7}
    assert json.loads((run.path / "metrics.json").read_text()) == {"loss": 0.5}
    assert not [p for p in run.path.iterdir() if p.name.startswith(".")]


def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    first = _model()
    save_model_atomic(first, path)
    expected = first.get_weights()

    second = _model()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(second, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model_atomic(second, path)
    loaded = load_model(path)
    for got, want in zip(loaded.get_weights(), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]  # no temp file left


def test_load_model_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file .*nope.keras not found"):
        load_model(tmp_path / "nope.keras")
    (tmp_path / "weights.h5").write_text("x")
    with pytest.raises(ValueError, match="must be a .keras file"):
        load_model(tmp_path / "weights.h5")
    with pytest.raises(ValueError, match="must end in .keras"):
        save_model_atomic(_model(), tmp_path / "model.h5")


def test_checkpoint_callbacks_resume_after_a_crash(tmp_path):
    """Training interrupted in epoch 3 resumes from epoch 3, not from scratch."""
    x = np.random.default_rng(0).random((8, 3)).astype("float32")
    y = x[:, :2]
    run = RunDir(tmp_path / "run")

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("simulated crash")

    model = _model()
    model.compile("sgd", "mse")
    with pytest.raises(RuntimeError):
        model.fit(x, y, epochs=4, verbose=0, callbacks=[*run.callbacks(), Crash()])
    assert run.model_path.is_file()
    resumed = _model()
    resumed.compile("sgd", "mse")
    history = resumed.fit(x, y, epochs=4, verbose=0, callbacks=run.callbacks())
    assert len(history.history["loss"]) == 2  # epochs 3 and 4 only


def test_unknown_strategy_is_refused():
    with pytest.raises(
        ValueError,
        match=r"--strategy must be one of \('default', "
        r"'mirrored', 'multi-worker'\); got 'tpu'",
    ):
        get_strategy("tpu")


def test_default_strategy():
    strategy = get_strategy("default")
    with runs.strategy_scope(strategy):
        assert _model()(np.zeros((1, 3), "float32")).shape == (1, 2)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute")
def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    # Logical devices must be set before TensorFlow starts: use a fresh process.
    script = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from core.runs import get_strategy, strategy_scope
        strategy = get_strategy("mirrored")
        with strategy_scope(strategy):
            inputs = keras.Input((3,))
            model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
            model.compile(keras.optimizers.SGD(0.1), "mse")
        x = np.random.default_rng(0).random((64, 3)).astype("float32")
        y = x.sum(axis=1, keepdims=True)
        losses = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history["loss"]
        print("replicas", strategy.num_replicas_in_sync, "fell", losses[-1] < losses[0])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert "replicas 2 fell True" in result.stdout, result.stderr[-2000:]


def test_atomic_checkpoint_keeps_the_best_by_monitor(tmp_path):
    from core.runs import AtomicCheckpoint

    path = tmp_path / "best.keras"
    callback = AtomicCheckpoint(path, monitor="val_loss", mode="min")
    model = _model()
    callback.set_model(model)
    callback.on_epoch_end(0, {"val_loss": 2.0})
    saved = path.stat().st_mtime_ns
    callback.on_epoch_end(1, {"val_loss": 3.0})  # worse: not saved
    assert path.stat().st_mtime_ns == saved and callback.best == 2.0
    callback.on_epoch_end(2, {})  # no value: not saved
    model.set_weights([np.ones_like(w) for w in model.get_weights()])
    callback.on_epoch_end(3, {"val_loss": 1.0})  # better: the new weights saved
    assert callback.best == 1.0
    assert all(np.all(w == 1) for w in load_model(path).get_weights())
