import json

from apps.speech import data, train
from apps.speech.transcribe import Transcriber


def test_training_reduces_ctc_loss_and_writes_the_run(tmp_path):
    records = []
    for index, (words, voice) in enumerate([("one two", "espeak:en-us+m1"),
                                            ("three", "espeak:en-gb+f2"),
                                            ("go left", "espeak:en-us+m3"),
                                            ("stop", "espeak:en-gb+m2")]):
        path = tmp_path / f"{index}.wav"
        data.synthesize(words, voice, {"speed": 175, "pitch": 50, "amplitude": 100},
                        path)
        records.append({"path": str(path), "text": words})
    data.write_jsonl_atomic(tmp_path / "m.jsonl", records)
    config = train.TrainConfig(
        train_manifest=str(tmp_path / "m.jsonl"),
        valid_manifest=str(tmp_path / "m.jsonl"), run_dir=str(tmp_path / "run"),
        epochs=4, batch_size=4, learning_rate=0.02, augment=False,
        conv_filters=(4, 4), units=16, num_layers=1, dropout=0.0)
    metrics = train.train(config)
    losses = [epoch["loss"] for epoch in metrics["history"]]
    assert len(losses) == 4
    assert losses[-1] < 0.6 * losses[0], losses
    run = tmp_path / "run"
    for name in ("config.json", "model.keras", "inference.keras", "lm.json",
                 "metrics.json"):
        assert (run / name).is_file(), name
    assert json.loads((run / "config.json").read_text())["units"] == 16
    transcriber = Transcriber.load(run)
    assert transcriber.language_model.lexicon == {"one", "two", "three", "go",
                                                  "left", "stop"}
    result = transcriber.transcribe_file(records[0]["path"], "greedy")
    assert isinstance(result["text"], str)


def test_fine_tuning_starts_from_the_given_model(tmp_path):
    import numpy as np
    import pytest

    from apps.speech import model as model_lib

    rng = np.random.default_rng(0)
    items = [(rng.standard_normal((120, 80)).astype(np.float32), "go left")] * 4
    data.np.savez_compressed(
        tmp_path / "f.npz",
        features=np.concatenate([np.round(f * 10).astype(np.int8) for f, _ in items]),
        lengths=np.array([120] * 4, np.int32), texts=np.array(["go left"] * 4))
    small = dict(conv_filters=(4, 4), units=8, num_layers=1, dropout=0.0)
    start = model_lib.build_model(model_lib.ModelConfig(**small))
    from core import runs
    runs.save_model_atomic(start, tmp_path / "start.keras")
    config = train.TrainConfig(
        train_features=str(tmp_path / "f.npz"), valid_features=str(tmp_path / "f.npz"),
        run_dir=str(tmp_path / "run"), epochs=1, batch_size=2, learning_rate=0.0,
        init_model=str(tmp_path / "start.keras"), augment=False, **small)
    train.train(config)
    tuned = runs.load_model(tmp_path / "run" / "inference.keras")
    # learning rate 0: the start weights came through (batch-norm statistics
    # move in training, so only the trainable weights are compared)
    for a, b in zip(start.trainable_weights, tuned.trainable_weights, strict=True):
        assert np.allclose(a.numpy(), b.numpy())
    other = train.TrainConfig(**{**config.__dict__, "units": 12,
                                 "run_dir": str(tmp_path / "run2")})
    with pytest.raises(ValueError, match="init_model .* expected the same"):
        train.train(other)
