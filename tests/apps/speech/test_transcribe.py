import json

import numpy as np
import pytest
import soundfile

from apps.speech import lm, transcribe
from apps.speech import model as model_lib
from core import runs

RATE = 16000


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoint")
    config = model_lib.ModelConfig(conv_filters=(4, 4), units=8, num_layers=1)
    runs.save_model_atomic(model_lib.build_model(config), folder / "model.keras")
    (folder / "config.json").write_text(json.dumps({"time_strides": [2, 1]}))
    lm.NgramLM(order=2).fit(["turn left", "go"]).save(folder / "lm.json")
    return folder


@pytest.fixture(scope="module")
def transcriber(tiny_checkpoint):
    return transcribe.Transcriber.load(tiny_checkpoint)


def speechlike(seconds, rate=RATE, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32)
    return (0.2 * envelope * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("decoder", ["greedy", "beam", "beam_lm"])
def test_transcribes_a_file_with_each_decoder(transcriber, tmp_path, decoder):
    path = tmp_path / "a.wav"
    soundfile.write(path, speechlike(1.5), RATE)
    result = transcriber.transcribe_file(path, decoder)
    assert result["seconds"] == pytest.approx(1.5, abs=0.01)
    assert result["chunks"] == 1
    assert isinstance(result["text"], str)
    assert all(start <= end for _, start, end in result["words"])


@pytest.mark.parametrize("rate, channels", [(8000, 1), (44100, 2), (22050, 6)])
def test_any_rate_and_channel_count_becomes_16k_mono(tmp_path, rate, channels):
    audio = np.stack([speechlike(1.0, rate)] * channels, axis=1)
    path = tmp_path / f"x{rate}_{channels}.wav"
    soundfile.write(path, audio, rate)
    total = sum(block.size for block in transcribe.stream_audio(path))
    assert total == pytest.approx(RATE, abs=RATE * 0.01)


def test_flac_ogg_and_mp3_are_read(tmp_path):
    for suffix in ("flac", "ogg", "mp3"):
        path = tmp_path / f"x.{suffix}"
        soundfile.write(path, speechlike(1.0), RATE)
        total = sum(b.size for b in transcribe.stream_audio(path))
        assert total == pytest.approx(RATE, abs=400)


def test_long_audio_is_split_into_bounded_chunks(transcriber, tmp_path):
    path = tmp_path / "long.wav"
    soundfile.write(path, speechlike(40.0), RATE)
    chunks = list(transcribe.split_on_silence(transcribe.stream_audio(
        path, block_seconds=3.0), max_chunk_seconds=8.0, min_chunk_seconds=3.0))
    assert all(c.size <= 8 * RATE for _, c in chunks)
    assert sum(c.size for _, c in chunks) == 40 * RATE
    starts = [s for s, _ in chunks]
    assert starts == sorted(starts) and starts[0] == 0.0
    result = transcriber.transcribe_file(path, "greedy", max_chunk_seconds=8.0)
    assert result["chunks"] == len(chunks) and result["seconds"] == 40.0


def test_silent_file_gives_empty_transcript(transcriber, tmp_path):
    path = tmp_path / "silent.wav"
    soundfile.write(path, np.zeros(RATE, np.float32), RATE)
    result = transcriber.transcribe_file(path)
    assert result["text"] == "" and result["words"] == []
    assert result["speech_found"] is False


def test_bad_inputs_give_one_line_errors(transcriber, tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        transcriber.transcribe_file(missing)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(transcribe.AudioError, match="empty"):
        transcriber.transcribe_file(empty)
    text_file = tmp_path / "notes.wav"
    text_file.write_text("this is not audio at all\n" * 20)
    with pytest.raises(transcribe.AudioError, match="cannot decode") as error:
        transcriber.transcribe_file(text_file)
    assert "\n" not in str(error.value)
    header_only = tmp_path / "header.wav"
    soundfile.write(header_only, np.zeros(0, np.float32), RATE)
    with pytest.raises(transcribe.AudioError, match="no audio samples"):
        transcriber.transcribe_file(header_only)
    with pytest.raises(transcribe.AudioError, match="directory"):
        transcriber.transcribe_file(tmp_path)


def test_truncated_file_is_an_error_or_a_result(transcriber, tmp_path):
    whole = tmp_path / "whole.flac"
    soundfile.write(whole, speechlike(3.0), RATE)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    try:
        result = transcriber.transcribe_file(cut, "greedy")
    except transcribe.AudioError as error:
        assert "cut.flac" in str(error)
    else:
        assert 0.5 < result["seconds"] <= 3.0


def test_missing_checkpoint_and_bad_decoder(transcriber, tmp_path):
    with pytest.raises(FileNotFoundError, match="model.keras"):
        transcribe.Transcriber.load(tmp_path)
    with pytest.raises(ValueError, match="decoder"):
        transcriber.decode(np.zeros((5, 29)), "viterbi")
