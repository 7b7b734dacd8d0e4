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
