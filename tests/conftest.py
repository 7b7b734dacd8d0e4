"""Shared test set-up: quiet TensorFlow, and one helper that checks a layer's
config round-trip, `.keras` save/load and one `fit` step (keras-hub style)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def check_layer(layer, inputs, tmp_path):
    """Config round-trip, save/load in safe mode with equal outputs, one fit step."""
    # For keras.layers.RNN, the round trip that matters is the cell's.
    configurable = getattr(layer, "cell", layer)
    config = configurable.get_config()
    clone = type(configurable).from_config(config)
    assert clone.get_config() == config

    inputs = np.asarray(inputs)
    model_input = keras.Input(shape=inputs.shape[1:], dtype=inputs.dtype)
    model = keras.Model(model_input, layer(model_input))
    expected = keras.ops.convert_to_numpy(model(inputs))
    path = tmp_path / "layer.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(inputs)), expected, atol=1e-6
    )

    target = np.random.default_rng(0).standard_normal(expected.shape).astype("float32")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights]
    model.fit(inputs, target, epochs=1, batch_size=len(inputs), verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    if before:  # a layer without weights only has to run
        assert any(not np.allclose(b, a) for b, a in zip(before, after, strict=True))


@pytest.fixture
def layer_checker(tmp_path):
    return lambda layer, inputs: check_layer(layer, inputs, tmp_path)


def is_tensorflow():
    return keras.backend.backend() == "tensorflow"
