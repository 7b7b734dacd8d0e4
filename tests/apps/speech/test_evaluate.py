import json

import numpy as np
import pytest

from apps.speech import data, evaluate


def test_summarise_groups_and_pools_errors():
    rows = [
        {"voice": "a", "reference": "one two", "hypothesis": "one two"},
        {"voice": "a", "reference": "three four", "hypothesis": "three"},
        {"voice": "b", "reference": "go", "hypothesis": "no"},
    ]
    table = evaluate.summarise(rows, ("voice",))
    assert table == [
        {"voice": "a", "n": 2, "wer": 25.0, "cer": pytest.approx(round(500 / 17, 2))},
        {"voice": "b", "n": 1, "wer": 100.0, "cer": 50.0},
    ]


def test_noisy_conditions():
    audio = np.sin(np.linspace(0, 300, 8000)).astype(np.float32)
    assert evaluate.noisy(audio, "clean", 0) is audio
    noisy = evaluate.noisy(audio, "10", 0)
    snr = 10 * np.log10(np.mean(audio ** 2) / np.mean((noisy - audio) ** 2))
    assert snr == pytest.approx(10.0, abs=0.01)
    assert np.array_equal(noisy, evaluate.noisy(audio, "10", 0))
    with pytest.raises(ValueError, match="condition"):
        evaluate.noisy(audio, "loud", 0)


def test_evaluate_end_to_end_with_the_shipped_checkpoint(tmp_path):
    records = []
    for index, words in enumerate(["seven of spades", "turn left", "four two"]):
        path = tmp_path / f"{index}.wav"
        data.synthesize(words, "espeak:en-gb-x-gbclan+f5",
                        {"speed": 160, "pitch": 50, "amplitude": 100}, path)
        records.append({"path": path.name, "text": words, "voice": "v",
                        "domain": "d"})
    data.write_jsonl_atomic(tmp_path / "test.jsonl", records)
    config = evaluate.EvaluateConfig(
        manifests=(str(tmp_path / "test.jsonl"),), conditions=("clean", "10"),
        decoders=("greedy", "beam_lm"), max_per_manifest=2,
        out=str(tmp_path / "eval.json"))
    results = evaluate.evaluate(config)
    overall = {(r["condition"], r["decoder"]): r for r in results["overall"]}
    assert set(overall) == {("clean", "greedy"), ("clean", "beam_lm"),
                            ("10", "greedy"), ("10", "beam_lm")}
    assert all(r["n"] == 2 for r in overall.values())
    assert overall[("clean", "beam_lm")]["wer"] <= 20.0
    assert json.loads((tmp_path / "eval.json").read_text())["overall"]
    assert (tmp_path / "eval.md").read_text().startswith("| split |")


def test_tune_decoder_writes_the_best_settings_the_transcriber_then_uses(tmp_path):
    import shutil

    from apps.speech.transcribe import Transcriber

    checkpoint = tmp_path / "ckpt"
    shutil.copytree("apps/speech/checkpoints/default", checkpoint)
    (checkpoint / "decoder.json").unlink(missing_ok=True)
    records = []
    for index, words in enumerate(["queen of hearts", "go forward"]):
        path = tmp_path / f"{index}.wav"
        data.synthesize(words, "espeak:en-gb-x-gbclan+m3",
                        {"speed": 160, "pitch": 50, "amplitude": 100}, path)
        records.append({"path": path.name, "text": words})
    data.write_jsonl_atomic(tmp_path / "dev.jsonl", records)
    config = evaluate.TuneConfig(
        checkpoint=str(checkpoint), manifest=str(tmp_path / "dev.jsonl"),
        conditions=("clean",), lm_weights=(0.5, 1.0), word_bonuses=(0.0, -30.0),
        out=str(tmp_path / "tune.json"))
    results = evaluate.tune_decoder(config)
    grid = results["grid"]
    assert {(r["lm_weight"], r["word_bonus"]) for r in grid} == {
        (0.5, 0.0), (0.5, -30.0), (1.0, 0.0), (1.0, -30.0)}
    best = results["best"]
    assert best == min(grid, key=lambda row: (row["wer"], row["cer"]))
    # each row's score is the error rate of decoding with its settings
    transcriber = Transcriber.load(checkpoint)
    row = grid[-1]
    settings = {k: row[k] for k in ("lm_weight", "word_bonus", "oov_penalty")}
    hypotheses = [
        transcriber.decode(transcriber.log_probs(data.read_audio_16k(
            tmp_path / record["path"])), "beam_lm", **settings)
        for record in records]
    rates = evaluate.lm_lib.error_rates([r["text"] for r in records], hypotheses)
    assert row["wer"] == round(100 * rates["wer"], 2)
    stored = json.loads((checkpoint / "decoder.json").read_text())
    assert stored["lm_weight"] == best["lm_weight"] and stored["beam_width"] == 24
    assert Transcriber.load(checkpoint).decoder_settings == stored
    (checkpoint / "decoder.json").write_text('{"lm_wieght": 1}')
    with pytest.raises(ValueError, match="unknown decoder settings"):
        Transcriber.load(checkpoint)
