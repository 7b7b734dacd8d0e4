import keras
import numpy as np
import pytest

from core.cells import GRUCell, LSTMCell
from core.recurrent import recurrent_layer


def test_auto_returns_the_builtin_for_standard_math():
    assert isinstance(recurrent_layer("gru", 4), keras.layers.GRU)
    assert isinstance(recurrent_layer("lstm", 4), keras.layers.LSTM)
    assert isinstance(recurrent_layer("elman", 4), keras.layers.SimpleRNN)


def test_auto_returns_the_core_cell_for_peepholes():
    layer = recurrent_layer("lstm", 4, use_peepholes=True, return_sequences=True)
    assert isinstance(layer.cell, LSTMCell) and layer.cell.use_peepholes
    assert layer(np.zeros((2, 3, 5), "float32")).shape == (2, 3, 4)


def test_core_implementation_is_forced():
    layer = recurrent_layer("gru", 4, implementation="core", reset_after=False)
    assert isinstance(layer.cell, GRUCell) and not layer.cell.reset_after


def test_keras_implementation_refuses_core_only_arguments():
    with pytest.raises(ValueError, match="cannot build a cell with"):
        recurrent_layer("lstm", 4, implementation="keras", use_peepholes=True)


def test_unknown_implementation_and_cell():
    with pytest.raises(ValueError, match="implementation must be one of"):
        recurrent_layer("lstm", 4, implementation="cudnn")
    with pytest.raises(ValueError, match="cell_type must be one of"):
        recurrent_layer("rnn", 4)
