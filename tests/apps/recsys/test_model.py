"""Tests of apps/recsys/model.py: GRU4Rec config, save/load, scoring, step."""

import keras
import numpy as np
import pytest

from apps.recsys.model import GRU4Rec, parse_final_activation
from core.cells import GRUCell


@pytest.mark.parametrize("embedding", ["constrained", "separate", "onehot"])
def test_config_round_trip_and_keras_save_load(tmp_path, embedding):
    model = GRU4Rec(
        10,
        hidden_units=[6, 4],
        embedding=embedding,
        embedding_dim=3,
        dropout_hidden=0.1,
        final_activation="elu-0.5",
    )
    items = np.array([[1, 2, 3], [4, 4, 9]])
    scores = model(items)
    assert tuple(scores.shape) == (2, 10)
    clone = GRU4Rec.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(items), scores, rtol=1e-6)
    assert isinstance(loaded.cells[0], GRUCell)


def test_constrained_embedding_shares_the_output_matrix():
    model = GRU4Rec(7, hidden_units=[5])
    names = sorted(w.path for w in model.trainable_weights)
    assert not any("input_embedding" in name for name in names)
    np.testing.assert_allclose(
        model.embed(np.array([3])), model.output_embedding.numpy()[3:4]
    )


def test_score_items_equals_columns_of_score_all():
    model = GRU4Rec(9, hidden_units=[4], final_activation="tanh")
    output, _ = model.step(np.array([1, 2]), model.initial_states(2))
    subset = np.array([8, 0, 3])
    np.testing.assert_allclose(
        model.score_items(output, subset),
        np.asarray(model.score_all(output))[:, subset],
        rtol=1e-5,
    )


def test_call_matches_step_by_step_and_uses_core_gru():
    model = GRU4Rec(8, hidden_units=[4])
    states = model.initial_states(1)
    for item in [3, 1, 5]:
        output, states = model.step(np.array([item]), states)
    np.testing.assert_allclose(
        model.score_all(output), model(np.array([[3, 1, 5]])), rtol=1e-5
    )
    # The first layer is core's GRUCell: the step equals a direct cell call.
    x = model.embed(np.array([3]))
    h, _ = model.cells[0](x, [np.zeros((1, 4), "float32")])
    first, _ = model.step(np.array([3]), model.initial_states(1))
    np.testing.assert_allclose(first, h, rtol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="embedding"):
        GRU4Rec(5, embedding="bag")
    with pytest.raises(ValueError, match="embedding_dim"):
        GRU4Rec(5, embedding="separate")
    with pytest.raises(ValueError, match="dropout_input"):
        GRU4Rec(5, dropout_input=1.0)
    with pytest.raises(ValueError, match="final_activation"):
        parse_final_activation("elu-x")
    assert float(parse_final_activation("elu-1")(np.float32(-50.0))) == pytest.approx(
        -1
    )
