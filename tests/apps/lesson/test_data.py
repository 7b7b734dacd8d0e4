import numpy as np
import pytest

from apps.lesson.data import adding_problem, make_task, recall_first_symbol


def test_recall_target_is_the_first_symbol_and_the_rest_distractors():
    inputs, targets = recall_first_symbol(50, 7, np.random.default_rng(0))
    assert inputs.shape == (50, 8, 8)
    assert np.all(inputs.sum(axis=-1) == 1)  # one-hot
    np.testing.assert_array_equal(inputs[:, 0].argmax(-1), targets)
    assert np.all(inputs[:, 1:].argmax(-1) >= 4)  # distractors only after step 0


def test_adding_problem_has_two_markers_one_per_half():
    inputs, targets = adding_problem(40, 10, np.random.default_rng(0))
    markers = inputs[..., 1]
    assert np.all(markers[:, :5].sum(axis=1) == 1)
    assert np.all(markers[:, 5:].sum(axis=1) == 1)
    np.testing.assert_allclose(
        (inputs[..., 0] * markers).sum(axis=1), targets, rtol=1e-6
    )


def test_bad_task_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="task must be one of"):
        make_task("copy", 3, 5, rng)
    with pytest.raises(ValueError, match="must be >= 1"):
        recall_first_symbol(3, 0, rng)
    with pytest.raises(ValueError, match="must be >= 2"):
        adding_problem(3, 1, rng)
