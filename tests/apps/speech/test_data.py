import json

import numpy as np
import pytest
import soundfile

from apps.speech import data, text, train


def write_tone(path, seconds=0.5, rate=16000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    audio = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    soundfile.write(str(path), audio, rate)
    return path


def test_librispeech_loader(tmp_path):
    chapter = tmp_path / "LibriSpeech" / "dev-clean" / "84" / "121123"
    chapter.mkdir(parents=True)
    (chapter / "84-121123.trans.txt").write_text(
        "84-121123-0000 GO DO YOU HEAR\n84-121123-0001 BUT IN LESS THAN FIVE MINUTES\n")
    for name in ("84-121123-0000", "84-121123-0001"):
        write_tone(chapter / f"{name}.flac")
    records = data.load_librispeech(tmp_path / "LibriSpeech")
    assert [r["text"] for r in records] == ["go do you hear",
                                            "but in less than five minutes"]
    assert records[0]["voice"] == "84" and records[0]["path"].endswith(".flac")
    assert data.load_records(tmp_path / "LibriSpeech") == records
    (chapter / "84-121123-0001.flac").unlink()
    with pytest.raises(FileNotFoundError, match="84-121123-0001"):
        data.load_librispeech(tmp_path / "LibriSpeech")


def test_ljspeech_loader_prefers_normalized_text(tmp_path):
    (tmp_path / "wavs").mkdir()
    (tmp_path / "metadata.csv").write_text(
        "LJ001-0001|Printing, in 1 sense|Printing, in one sense\n"
        "LJ001-0002|Only the text.|\n")
    records = data.load_ljspeech(tmp_path)
    assert [r["text"] for r in records] == ["printing in one sense", "only the text"]
    assert records[0]["path"].endswith("wavs/LJ001-0001.wav")
    with pytest.raises(FileNotFoundError, match="metadata"):
        data.load_ljspeech(tmp_path / "wavs")


def test_csv_and_jsonl_manifests(tmp_path):
    write_tone(tmp_path / "a.wav")
    (tmp_path / "m.csv").write_text("path,text\na.wav,Turn LEFT!\n")
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "a.wav", "text": "Stop"})
                                      + "\n")
    assert data.load_manifest(tmp_path / "m.csv")[0]["text"] == "turn left"
    record = data.load_manifest(tmp_path / "m.jsonl")[0]
    assert record["text"] == "stop" and record["path"] == str(tmp_path / "a.wav")
    (tmp_path / "bad.csv").write_text("file,words\na.wav,x\n")
    with pytest.raises(ValueError, match="needs 'path' and 'text'"):
        data.load_manifest(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match=".csv or .jsonl"):
        data.load_manifest(write_tone(tmp_path / "x.wav"))


def test_corpus_plan_is_reproducible_and_split_by_voice():
    config = data.CorpusConfig(train_size=60, valid_size=5, test_train_voices_size=10,
                               test_heldout_per_voice=2, extra_train_size=0,
                               dev_per_voice=2)
    plan = data.plan_corpus(config)
    assert plan == data.plan_corpus(config)
    train_voices = {p["voice"] for p in plan if p["split"] == "train"}
    heldout = [p for p in plan if p["split"] == "test_heldout_voices"]
    assert len(heldout) == 2 * len(data.HELDOUT_VOICES)
    assert not train_voices & {p["voice"] for p in heldout}
    dev_voices = {p["voice"] for p in plan if p["split"] == "dev_unseen_voices"}
    assert dev_voices == set(data.DEV_VOICES)
    assert not dev_voices & (train_voices | set(data.HELDOUT_VOICES))
    assert "festival" not in {p["engine"] for p in plan if p["split"] == "train"}
    train_texts = {p["text"] for p in plan if p["split"] == "train"}
    sentences = [p for p in heldout if p["domain"] == "sentences"]
    assert sentences and all(p["text"] not in train_texts for p in sentences)
    other = data.plan_corpus(data.CorpusConfig(seed=5, train_size=60,
                                               extra_train_size=0))
    assert [p["text"] for p in other[:60]] != [p["text"] for p in plan[:60]]


def test_extra_training_voices_leave_the_other_splits_unchanged():
    config = data.CorpusConfig(train_size=40, valid_size=5, test_train_voices_size=10,
                               test_heldout_per_voice=2, extra_train_size=0)
    wider = data.CorpusConfig(**{**config.__dict__, "extra_train_size": 200})
    plan, plan_wider = data.plan_corpus(config), data.plan_corpus(wider)
    train = [p for p in plan_wider if p["split"] == "train"]
    assert len(train) == 240 and train[:40] == plan[:40]
    assert [p for p in plan_wider if p["split"] != "train"] == plan[40:]
    assert not set(data.DEV_VOICES) & {p["voice"] for p in train}
    extra = train[40:]
    heldout_voices = set(data.HELDOUT_VOICES)
    assert not heldout_voices & {p["voice"] for p in extra}
    assert not any(v in p["voice"] for p in extra
                   for v in ("gbclan", "gbcwmd", "+Alicia", "+f5", "+m7", "+klatt4"))
    tested = {p["text"] for p in plan if p["split"].startswith(("valid", "test"))}
    assert not tested & {p["text"] for p in extra}
    assert any("shift_cents" in p["params"] for p in extra)
    assert len({p["voice"] for p in extra}) > 100


def test_make_corpus_synthesizes_and_caches(tmp_path):
    config = data.CorpusConfig(train_size=3, valid_size=1, test_train_voices_size=1,
                               test_heldout_per_voice=0, extra_train_size=0,
                               dev_per_voice=0,
                               domains=("digits", "cards"))
    splits = data.make_corpus(tmp_path, config, log=lambda *_: None)
    records = data.load_records(tmp_path / "train.jsonl")
    assert len(records) == 3 and set(splits) == {"train", "valid",
                                                 "test_train_voices"}
    audio = data.read_audio_16k(records[0]["path"])
    assert audio.ndim == 1 and 0.3 < audio.size / 16000 < 10
    assert np.abs(audio).max() > 0.01
    before = (tmp_path / records[0]["path"]).stat().st_mtime_ns if False else \
        sorted(p.stat().st_mtime_ns for p in (tmp_path / "audio").iterdir())
    data.make_corpus(tmp_path, config, log=lambda *_: None)
    after = sorted(p.stat().st_mtime_ns for p in (tmp_path / "audio").iterdir())
    assert before == after  # cached, not synthesized again


def test_make_dataset_buckets_and_pads(tmp_path):
    rng = np.random.default_rng(0)
    records = [{"audio": (rng.standard_normal(n) * 3000).astype(np.int16),
                "text": t} for n, t in ((16000, "one"), (17000, "two"),
                                         (40000, "three four"), (8000, "go"))]
    batches = list(data.make_dataset(records, batch_size=2, shuffle=False,
                                     bucket_boundaries=(150,)))
    shapes = sorted(tuple(x.shape) for x, _ in batches)
    assert shapes == [(1, 251, 80), (2, 107, 80)] or len(batches) == 3
    for feats, labels in batches:
        assert feats.shape[-1] == 80 and labels.dtype.name == "int32"
        assert labels.shape[1] >= 2
    decoded = sorted(text.decode(row) for _, y in batches for row in y.numpy())
    assert decoded == ["go", "one", "three four", "two"]


def test_feature_export_round_trip_and_batches(tmp_path):
    path = write_tone(tmp_path / "a.wav", seconds=1.0)
    records = [{"path": str(path), "text": "ace of hearts"},
               {"path": str(path), "text": "go"}]
    data.export_features(records, tmp_path / "f.npz")
    items = data.load_features(tmp_path / "f.npz")
    assert [t for _, t in items] == ["ace of hearts", "go"]
    assert items[0][0].shape == (101, 80)
    batches = train.FeatureBatches(items, batch_size=2, shuffle=False, pad_frames=64)
    x, y = batches[0]
    assert x.shape == (2, 128, 80) and y.shape == (2, 96)
    assert sorted(text.decode(row) for row in y) == ["ace of hearts", "go"]


def test_feature_export_is_the_same_with_worker_processes(tmp_path):
    from apps.speech import features

    records = [{"path": str(write_tone(tmp_path / f"{i}.wav", seconds=0.5 + i / 10)),
                "text": "go"} for i in range(3)]
    augment = features.AugmentConfig(noise_probability=1.0, speed_probability=0.0)
    data.export_features(records, tmp_path / "one.npz", augment=augment, seed=3)
    data.export_features(records, tmp_path / "two.npz", augment=augment, seed=3,
                         workers=2)
    one, two = (data.load_features(tmp_path / n) for n in ("one.npz", "two.npz"))
    assert [f.shape for f, _ in one] == [(51, 80), (61, 80), (71, 80)]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(one, two, strict=True))


def test_feature_batches_as_tf_dataset_take_any_length():
    # Keras' own adapter fixes the first batch's frame count; ours must not.
    rng = np.random.default_rng(0)
    items = [(rng.standard_normal((n, 80)).astype(np.float32), "go left")
             for n in (100, 110, 300, 310)]
    batches = train.FeatureBatches(items, batch_size=2, shuffle=True, pad_frames=32)
    shapes = sorted(tuple(x.shape) for x, _ in batches.as_tf_dataset())
    assert shapes == [(2, 128, 80), (2, 320, 80)]
    assert len(list(batches.as_tf_dataset())) == 2  # a second epoch works
