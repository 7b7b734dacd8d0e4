import keras
import numpy as np
import pytest

from apps.lesson.evaluate import gradient_decay, largest_solved
from core.cells import ElmanCell


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.GradientTape")
def test_gradient_decay_of_a_linear_elman_network_is_exact():
    """With identity activation, no input weights and U = a * I, h_T = a^k h_(T-k)
    (plus input terms), so d h_T / d h_(T-k) = a^k I and the projected norm with
    a unit vector is exactly a^k."""
    cell = ElmanCell(3, activation="linear", use_bias=False)
    cell.build((None, 2))
    cell.kernel.assign(np.zeros((2, 3), "float32"))
    cell.recurrent_kernel.assign(0.5 * np.eye(3, dtype="float32"))
    inputs = np.random.default_rng(0).standard_normal((4, 9, 2)).astype("float32")
    norms = gradient_decay(cell, inputs, np.random.default_rng(0))
    np.testing.assert_allclose(norms, 0.5 ** np.arange(1, 9), rtol=1e-5)


def test_largest_solved_stops_at_the_first_failure():
    rows = [
        {"task": "recall", "setting": "gru", "seed": 0, "k": 10, "solved": "True"},
        {"task": "recall", "setting": "gru", "seed": 0, "k": 20, "solved": "False"},
        {"task": "recall", "setting": "gru", "seed": 0, "k": 50, "solved": "True"},
        {"task": "recall", "setting": "lstm", "seed": 0, "k": 10, "solved": "False"},
        {"task": "recall", "setting": "elman", "seed": 1, "k": 10, "solved": True},
        {"task": "recall", "setting": "elman", "seed": 1, "k": 20, "solved": True},
    ]
    assert largest_solved(rows, (10, 20, 50)) == {
        ("recall", "gru", 0): 10,
        ("recall", "lstm", 0): 0,
        ("recall", "elman", 1): 20,
    }
