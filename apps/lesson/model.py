"""The compared settings: one recurrent layer + a linear read-out, with the
hidden size chosen so every setting has about the same number of parameters.

Settings:
- elman-era: Elman network with small random weights, U(-0.1, 0.1), as
  networks of Elman's era were initialised (the recurrent matrix is then
  contractive: spectral radius about 0.5).
- elman-orthogonal: the same network with Keras' defaults (Glorot input
  weights, orthogonal recurrent weights: every singular value 1).
- lstm: LSTM with the forget-gate bias started at 1 (Keras' default).
- lstm-no-forget-bias: LSTM with every bias at 0 (the forget gate starts
  half-closed: memory decays by ~0.5 per step at first).
- gru: GRU (reset_after, Keras' default).
"""

import math

import keras

from apps.lesson.data import task_dims
from core.cells import ElmanCell, GRUCell, LSTMCell

SETTINGS = ("elman-era", "elman-orthogonal", "lstm", "lstm-no-forget-bias", "gru")


def make_cell(setting, units):
    if setting == "elman-era":
        small = keras.initializers.RandomUniform(-0.1, 0.1)
        return ElmanCell(units, kernel_initializer=small, recurrent_initializer=small)
    if setting == "elman-orthogonal":
        return ElmanCell(units)
    if setting == "lstm":
        return LSTMCell(units, unit_forget_bias=True)
    if setting == "lstm-no-forget-bias":
        return LSTMCell(units, unit_forget_bias=False)
    if setting == "gru":
        return GRUCell(units)
    raise ValueError(f"setting must be one of {SETTINGS}; got {setting!r}")


def recurrent_parameters(setting, units, input_dim):
    """Parameter count of the recurrent layer of a setting."""
    if setting.startswith("elman"):
        return units * (units + input_dim + 1)
    if setting.startswith("lstm"):
        return 4 * units * (units + input_dim + 1)
    if setting == "gru":
        return 3 * units * (units + input_dim + 2)  # reset_after: two biases
    raise ValueError(f"setting must be one of {SETTINGS}; got {setting!r}")


def units_for_budget(setting, input_dim, budget):
    """The largest hidden size whose recurrent layer fits in `budget` parameters."""
    gates = {"elman": 1, "lstm": 4, "gru": 3}[setting.split("-")[0]]
    # gates * (u^2 + u * (input_dim + 1)) <= budget, solved for u.
    b = input_dim + 1
    units = int((-b + math.sqrt(b * b + 4 * budget / gates)) / 2)
    while recurrent_parameters(setting, units + 1, input_dim) <= budget:
        units += 1
    while units > 1 and recurrent_parameters(setting, units, input_dim) > budget:
        units -= 1
    return units


def build_model(setting, task, units):
    """One recurrent layer (the setting's `core` cell) + Dense read-out."""
    input_dim, outputs = task_dims(task)
    inputs = keras.Input(shape=(None, input_dim), name="sequence")
    state = keras.layers.RNN(make_cell(setting, units), name="rnn")(inputs)
    read_out = keras.layers.Dense(outputs, name="read_out")(state)
    return keras.Model(inputs, read_out, name=f"{setting}_{task}")
