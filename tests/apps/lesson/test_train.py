import types

import pytest

from apps.lesson.train import StopWhenSolved, is_solved


@pytest.mark.parametrize(
    "task, logs, stops",
    [
        ("recall", {"val_accuracy": 0.96}, False),  # solved, but no margin yet
        ("recall", {"val_accuracy": 0.985}, True),
        ("adding", {"val_loss": 0.095 / 6}, False),
        ("adding", {"val_loss": 0.07 / 6}, True),
        ("adding", {}, False),
    ],
)
def test_stop_when_solved_keeps_a_margin(task, logs, stops):
    callback = StopWhenSolved(task)
    callback.set_model(types.SimpleNamespace(stop_training=False))
    callback.on_epoch_end(4, logs)
    assert callback.model.stop_training is stops
    assert callback.epochs_run == 5


def test_solved_thresholds():
    assert is_solved("recall", 0.95) and not is_solved("recall", 0.949)
    assert is_solved("adding", 0.10) and not is_solved("adding", 0.101)
