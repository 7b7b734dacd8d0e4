"""Recurrent cells written with `keras.ops` only, so they run on any Keras backend.

Each cell computes one time step, `call(inputs, states) -> (output, new_states)`,
and `keras.layers.RNN` runs the loop over time. The weight layouts match the
Keras built-in cells (`SimpleRNNCell`, `LSTMCell`, `GRUCell`), so weights can be
copied between the two and the parity tests can compare them number for number.

What the built-ins do not have:
- `LSTMCell(use_peepholes=True)`: the peephole connections of Gers & Schmidhuber
  (2000) that Graves (2013, eq. 7-11) uses: the gates also see the cell state.
- `ElmanCell` under its own name, as the simple recurrent network of Elman
  (1990) that the vanishing-gradient lesson studies.

Example:

>>> layer = keras.layers.RNN(LSTMCell(16, use_peepholes=True))
>>> layer(np.zeros((2, 5, 3), "float32")).shape
(2, 16)
"""

import keras
from keras import ops

PACKAGE = "rnn_demos"


def _check_step_input(cell_name, input_shape):
    if len(input_shape) != 2 or input_shape[-1] is None:
        raise ValueError(
            f"{cell_name} expects one time step of shape (batch, features) with a "
            f"known feature size; got input shape {tuple(input_shape)}. "
            "Wrap the cell in keras.layers.RNN to run it over (batch, time, features)."
        )


def _check_float(cell_name, inputs):
    dtype = keras.backend.standardize_dtype(inputs.dtype)
    if "float" not in dtype:
        raise ValueError(
            f"{cell_name} expects floating-point inputs; got dtype {dtype}. "
            "Cast the inputs (or embed integer ids) first."
        )


class _RecurrentCell(keras.layers.Layer):
    """Shared constructor, config and validation for the three cells."""

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive integer; got {units!r}")
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.output_size = units

    def _add_kernels(self, input_dim, gates):
        self.kernel = self.add_weight(
            shape=(input_dim, gates * self.units),
            initializer=self.kernel_initializer,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, gates * self.units),
            initializer=self.recurrent_initializer,
            name="recurrent_kernel",
        )

    def get_initial_state(self, batch_size=None):
        sizes = (
            self.state_size if isinstance(self.state_size, list) else [self.state_size]
        )
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes
        ]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ElmanCell(_RecurrentCell):
    """Elman's simple recurrent network: h_t = tanh(x_t W + h_(t-1) U + b).

    Same weights and numbers as `keras.layers.SimpleRNNCell`. Pass
    `recurrent_initializer=keras.initializers.RandomUniform(-0.1, 0.1)` for the
    small random weights of Elman's era instead of Keras' orthogonal default.

    Args:
        units: size of the hidden state.
        activation: the nonlinearity (default tanh).
    """

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size = units

    def build(self, input_shape):
        _check_step_input(type(self).__name__, input_shape)
        self._add_kernels(input_shape[-1], gates=1)
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,), initializer=self.bias_initializer, name="bias"
            )

    def call(self, inputs, states, training=False):
        _check_float(type(self).__name__, inputs)
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        h = self.activation(z)
        return h, [h]


@keras.saving.register_keras_serializable(package=PACKAGE)
class LSTMCell(_RecurrentCell):
    """Long short-term memory cell, optionally with peephole connections.

    Gate order in the fused weights is (input, forget, cell, output), as in
    `keras.layers.LSTMCell`. With `use_peepholes=True` the input and forget gates
    also see c_(t-1) and the output gate sees c_t through diagonal weights
    (Graves 2013, eq. 7-11):

        i = sigmoid(W_i x + U_i h + p_i * c_prev + b_i)
        f = sigmoid(W_f x + U_f h + p_f * c_prev + b_f)
        c = f * c_prev + i * tanh(W_c x + U_c h + b_c)
        o = sigmoid(W_o x + U_o h + p_o * c + b_o)
        h = o * tanh(c)

    Args:
        units: size of the hidden and cell states.
        use_peepholes: add the diagonal peephole weights.
        unit_forget_bias: start the forget-gate bias at 1 (Jozefowicz et al.
            2015); False starts it at `bias_initializer` like the other gates.
    """

    def __init__(
        self,
        units,
        use_peepholes=False,
        unit_forget_bias=True,
        recurrent_activation="sigmoid",
        peephole_initializer="zeros",
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.use_peepholes = use_peepholes
        self.unit_forget_bias = unit_forget_bias
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.state_size = [units, units]

    def build(self, input_shape):
        _check_step_input(type(self).__name__, input_shape)
        self._add_kernels(input_shape[-1], gates=4)
        if self.use_bias:
            if self.unit_forget_bias:
                base = self.bias_initializer
                units = self.units

                def bias_initializer(shape, dtype=None):
                    return ops.concatenate(
                        [
                            base((units,), dtype=dtype),
                            ops.ones((units,), dtype=dtype),
                            base((units * 2,), dtype=dtype),
                        ]
                    )

            else:
                bias_initializer = self.bias_initializer
            self.bias = self.add_weight(
                shape=(4 * self.units,), initializer=bias_initializer, name="bias"
            )
        if self.use_peepholes:
            self.peephole_input, self.peephole_forget, self.peephole_output = (
                self.add_weight(
                    shape=(self.units,),
                    initializer=self.peephole_initializer,
                    name=f"peephole_{gate}",
                )
                for gate in ("input", "forget", "output")
            )

    def call(self, inputs, states, training=False):
        _check_float(type(self).__name__, inputs)
        h_prev, c_prev = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        if self.use_peepholes:
            z_i = z_i + self.peephole_input * c_prev
            z_f = z_f + self.peephole_forget * c_prev
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c_prev + i * self.activation(z_c)
        if self.use_peepholes:
            z_o = z_o + self.peephole_output * c
        o = self.recurrent_activation(z_o)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self):
        config = {
            "use_peepholes": self.use_peepholes,
            "unit_forget_bias": self.unit_forget_bias,
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
            "peephole_initializer": keras.initializers.serialize(
                self.peephole_initializer
            ),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package=PACKAGE)
class GRUCell(_RecurrentCell):
    """Gated recurrent unit (Cho et al. 2014), gate order (update, reset, candidate).

    `reset_after=True` (the Keras and cuDNN default) applies the reset gate after
    the recurrent matrix product and keeps separate input and recurrent biases,
    bias shape (2, 3 * units); `reset_after=False` is the original formulation,
    r applied to h before the product, one bias of shape (3 * units,).

        z = sigmoid(W_z x + U_z h + b_z)
        r = sigmoid(W_r x + U_r h + b_r)
        n = tanh(W_n x + r * (U_n h + b_rn) + b_n)     # reset_after=True
        n = tanh(W_n x + U_n (r * h) + b_n)            # reset_after=False
        h_new = z * h + (1 - z) * n

    Args:
        units: size of the hidden state.
        reset_after: where the reset gate is applied (see above).
    """

    def __init__(
        self, units, reset_after=True, recurrent_activation="sigmoid", **kwargs
    ):
        super().__init__(units, **kwargs)
        self.reset_after = reset_after
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.state_size = units

    def build(self, input_shape):
        _check_step_input(type(self).__name__, input_shape)
        self._add_kernels(input_shape[-1], gates=3)
        if self.use_bias:
            shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
            self.bias = self.add_weight(
                shape=shape, initializer=self.bias_initializer, name="bias"
            )

    def call(self, inputs, states, training=False):
        _check_float(type(self).__name__, inputs)
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        units = self.units
        x = ops.matmul(inputs, self.kernel)
        if self.reset_after:
            inner = ops.matmul(h_prev, self.recurrent_kernel)
            if self.use_bias:
                x = x + self.bias[0]
                inner = inner + self.bias[1]
            x_z, x_r, x_n = ops.split(x, 3, axis=-1)
            h_z, h_r, h_n = ops.split(inner, 3, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            n = self.activation(x_n + r * h_n)
        else:
            if self.use_bias:
                x = x + self.bias
            x_z, x_r, x_n = ops.split(x, 3, axis=-1)
            inner = ops.matmul(h_prev, self.recurrent_kernel[:, : 2 * units])
            h_z, h_r = ops.split(inner, 2, axis=-1)
            z = self.recurrent_activation(x_z + h_z)
            r = self.recurrent_activation(x_r + h_r)
            n = self.activation(
                x_n + ops.matmul(r * h_prev, self.recurrent_kernel[:, 2 * units :])
            )
        h = z * h_prev + (1.0 - z) * n
        return h, [h]

    def get_config(self):
        config = {
            "reset_after": self.reset_after,
            "recurrent_activation": keras.activations.serialize(
                self.recurrent_activation
            ),
        }
        return {**super().get_config(), **config}


CELLS = {"elman": ElmanCell, "lstm": LSTMCell, "gru": GRUCell}


def get_cell_class(cell_type):
    """Returns the cell class for a name in `CELLS` ("elman", "lstm", "gru")."""
    try:
        return CELLS[cell_type]
    except (KeyError, TypeError):
        raise ValueError(
            f"cell_type must be one of {sorted(CELLS)}; got {cell_type!r}"
        ) from None
