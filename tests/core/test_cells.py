import keras
import numpy as np
import pytest

from core.cells import ElmanCell, GRUCell, LSTMCell, get_cell_class

RNG = np.random.default_rng(0)
INPUTS = RNG.standard_normal((3, 6, 5)).astype("float32")


def _run(cell, inputs=INPUTS):
    layer = keras.layers.RNN(cell, return_sequences=True)
    return layer, keras.ops.convert_to_numpy(layer(inputs))


def _copy_and_compare(core_cell, keras_cell):
    keras_layer, _ = _run(keras_cell)
    core_layer, _ = _run(core_cell)
    # Random (not initial) weights, so biases and every gate matter.
    weights = [
        RNG.standard_normal(w.shape).astype("float32") * 0.5
        for w in keras_layer.get_weights()
    ]
    keras_layer.set_weights(weights)
    core_layer.set_weights(weights)
    expected = keras.ops.convert_to_numpy(keras_layer(INPUTS))
    actual = keras.ops.convert_to_numpy(core_layer(INPUTS))
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def test_elman_matches_keras_simple_rnn():
    _copy_and_compare(ElmanCell(4), keras.layers.SimpleRNNCell(4))


def test_lstm_matches_keras_lstm():
    _copy_and_compare(LSTMCell(4), keras.layers.LSTMCell(4))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_keras_gru(reset_after):
    _copy_and_compare(
        GRUCell(4, reset_after=reset_after),
        keras.layers.GRUCell(4, reset_after=reset_after),
    )


def test_lstm_forget_bias_starts_at_one_or_zero():
    with_bias = LSTMCell(3)
    with_bias.build((None, 2))
    bias = keras.ops.convert_to_numpy(with_bias.bias)
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    without = LSTMCell(3, unit_forget_bias=False)
    without.build((None, 2))
    assert not keras.ops.convert_to_numpy(without.bias).any()


def test_peephole_lstm_fixed_numbers():
    """One unit, one input, two steps, worked out by hand (Graves 2013 eq. 7-11)."""
    cell = LSTMCell(1, use_peepholes=True, unit_forget_bias=False)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = np.array([[[1.0], [-0.5]]], dtype="float32")
    layer(x)
    # kernel (1, 4): i, f, c, o; recurrent (1, 4); bias (4,); peepholes i, f, o.
    cell.kernel.assign([[0.5, -0.25, 1.0, 0.75]])
    cell.recurrent_kernel.assign([[0.1, 0.2, -0.3, 0.4]])
    cell.bias.assign([0.0, 0.5, 0.1, -0.1])
    cell.peephole_input.assign([0.3])
    cell.peephole_forget.assign([-0.2])
    cell.peephole_output.assign([0.6])

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    h, c, outputs = 0.0, 0.0, []
    for xt in (1.0, -0.5):
        i = sigmoid(0.5 * xt + 0.1 * h + 0.3 * c)
        f = sigmoid(-0.25 * xt + 0.2 * h - 0.2 * c + 0.5)
        c = f * c + i * np.tanh(1.0 * xt - 0.3 * h + 0.1)
        o = sigmoid(0.75 * xt + 0.4 * h + 0.6 * c - 0.1)
        h = o * np.tanh(c)
        outputs.append(h)
    # Step 1 by hand: i=s(.5)=.62246, f=s(.25)=.56218, c=i*tanh(1.1)=.49828,
    # o=s(.65+.6c)=.72092, h=o*tanh(c)=.33217; step 2 follows the same loop.
    np.testing.assert_allclose(outputs, [0.3321666, 0.0418050], atol=1e-6)
    sequence, h_last, c_last = (keras.ops.convert_to_numpy(t) for t in layer(x))
    np.testing.assert_allclose(sequence[0, :, 0], outputs, atol=1e-6)
    np.testing.assert_allclose(h_last[0, 0], h, atol=1e-6)
    np.testing.assert_allclose(c_last[0, 0], c, atol=1e-6)


def test_peepholes_change_the_output():
    plain = keras.layers.RNN(LSTMCell(4))
    peephole = keras.layers.RNN(
        LSTMCell(4, use_peepholes=True, peephole_initializer="ones")
    )
    plain(INPUTS)
    peephole(INPUTS)
    peephole.set_weights(plain.get_weights() + [np.ones(4, "float32")] * 3)
    assert not np.allclose(
        keras.ops.convert_to_numpy(plain(INPUTS)),
        keras.ops.convert_to_numpy(peephole(INPUTS)),
    )


@pytest.mark.parametrize(
    "cell",
    [
        ElmanCell(3),
        LSTMCell(3, use_peepholes=True),
        GRUCell(3, reset_after=False),
    ],
    ids=["elman", "lstm-peephole", "gru-reset-before"],
)
def test_config_save_load_and_fit(cell, layer_checker):
    layer_checker(keras.layers.RNN(cell, return_sequences=True), INPUTS)


def test_wrong_rank_is_refused():
    with pytest.raises(
        ValueError, match=r"expects one time step of shape \(batch, features\)"
    ):
        ElmanCell(2).build((None, 4, 3))


def test_integer_inputs_are_refused():
    layer = keras.layers.RNN(GRUCell(2))
    with pytest.raises(
        ValueError, match="expects floating-point inputs; got dtype int32"
    ):
        layer(np.ones((1, 3, 2), dtype="int32"))


def test_bad_units_and_cell_type():
    with pytest.raises(ValueError, match="units must be a positive integer"):
        LSTMCell(0)
    with pytest.raises(ValueError, match="cell_type must be one of"):
        get_cell_class("transformer")
