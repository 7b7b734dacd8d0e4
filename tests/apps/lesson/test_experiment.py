import dataclasses

import keras
import pytest

from apps.cli import main
from apps.lesson.experiment import run_lesson
from apps.lesson.train import LessonConfig, train_one


def _tiny(**changes):
    values = dict(
        tasks=("recall",),
        settings=("elman-orthogonal", "gru"),
        lags=(3, 5),
        seeds=(0,),
        parameter_budget=400,
        train_sequences=256,
        validation_sequences=64,
        test_sequences=128,
        epochs=15,
        batch_size=32,
        learning_rate=0.01,
        gradient_lags=12,
        gradient_train_lag=3,
        gradient_batch=8,
    )
    values.update(changes)
    return dataclasses.replace(LessonConfig(), **values)


def test_training_beats_chance_on_a_short_lag():
    row, _ = train_one("gru", "recall", 3, 0, _tiny())
    assert row["metric"] == "accuracy" and row["score"] > 0.6  # chance is 0.25
    adding, _ = train_one("elman-orthogonal", "adding", 4, 0, _tiny(epochs=20))
    assert adding["score"] < 0.8  # MSE below the trivial predictor's


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.GradientTape")
def test_run_lesson_writes_every_output_and_resumes(tmp_path):
    config = _tiny(epochs=3)
    rows, summary, curves = run_lesson(config, tmp_path, log=lambda *_: None)
    for name in (
        "config.json",
        "results.csv",
        "summary.md",
        "gradient_decay.csv",
        "gradient_decay.png",
    ):
        assert (tmp_path / name).is_file(), name
    assert "| elman-orthogonal | recall |" in summary
    assert set(curves) == {
        f"{s} @{stage}"
        for s in config.settings
        for stage in ("initialisation", "trained")
    }
    again, _, _ = run_lesson(config, tmp_path, log=lambda *_: None, gradients=False)
    assert again == [  # nothing retrained: rows come back from results.csv
        {key: str(value) for key, value in row.items()} for row in rows
    ]


def test_cli_names_an_unknown_config_key(capsys):
    assert main(["lesson", "run", "--quick", "--set", "epoch=3"]) == 2
    assert "unknown config key(s) ['epoch'] for LessonConfig" in capsys.readouterr().err


def test_cli_names_an_unknown_strategy(capsys):
    assert main(["lesson", "run", "--quick", "--strategy", "tpu"]) == 2
    assert "--strategy must be one of" in capsys.readouterr().err


def test_curriculum_continues_the_previous_lags_model(tmp_path, monkeypatch):
    from apps.lesson import experiment

    seen = []
    real_train_one = experiment.train_one

    def recording_train_one(*args, model=None, **kwargs):
        seen.append(model is not None)
        return real_train_one(*args, model=model, **kwargs)

    monkeypatch.setattr(experiment, "train_one", recording_train_one)
    config = _tiny(
        settings=("gru",), epochs=2, curriculum=True, stop_at_first_failure=False
    )
    rows, _, _ = run_lesson(config, tmp_path, log=lambda *_: None, gradients=False)
    assert [int(r["k"]) for r in rows] == [3, 5]
    assert seen == [False, True]  # lag 5 starts from lag 3's saved model
    assert (tmp_path / "models" / "recall_gru_0.keras").is_file()
