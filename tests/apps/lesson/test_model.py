import keras
import numpy as np
import pytest

from apps.lesson.model import (
    SETTINGS,
    build_model,
    recurrent_parameters,
    units_for_budget,
)


@pytest.mark.parametrize("setting", SETTINGS)
def test_units_for_budget_is_the_largest_that_fits(setting):
    units = units_for_budget(setting, 8, 5248)
    assert recurrent_parameters(setting, units, 8) <= 5248
    assert recurrent_parameters(setting, units + 1, 8) > 5248


def test_recurrent_parameters_match_keras_counts():
    for setting in ("elman-era", "lstm", "gru"):
        model = build_model(setting, "recall", 5)
        assert model.get_layer("rnn").count_params() == recurrent_parameters(
            setting, 5, 8
        )


def test_era_initialisation_is_contractive_and_orthogonal_is_not():
    era = build_model("elman-era", "recall", 64)
    orthogonal = build_model("elman-orthogonal", "recall", 64)
    radius = []
    for model in (era, orthogonal):
        matrix = keras.ops.convert_to_numpy(
            model.get_layer("rnn").cell.recurrent_kernel
        )
        radius.append(np.abs(np.linalg.eigvals(matrix)).max())
    assert radius[0] < 0.7 < 0.99 < radius[1]
