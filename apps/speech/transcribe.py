"""Transcribe any audio file: read, downmix, resample to 16 kHz, split long
audio on silence, run the CTC model chunk by chunk, decode, time the words.

Audio is streamed in blocks, so memory stays bounded (one chunk of at most
`max_chunk_seconds` plus one read block) however long the file is.

Example:
    >>> transcriber = Transcriber.load("apps/speech/checkpoints/default")
    >>> result = transcriber.transcribe_file("hello.wav")
    >>> result["text"], result["words"][0]
    ('turn left', ('turn', 0.32, 0.61))
"""

import dataclasses
import inspect
import json
import math
import pathlib

import numpy as np

from apps.speech import features as features_lib
from apps.speech import lm as lm_lib

SAMPLE_RATE = features_lib.SAMPLE_RATE
DECODERS = ("greedy", "beam", "beam_lm")
# Decoder settings used unless a checkpoint's decoder.json (written by
# `rnn-demos speech tune-decoder`) or the caller says otherwise: the defaults
# of `lm.prefix_beam_search`, read from its signature (one source of truth).
DECODER_DEFAULTS = {
    name: inspect.signature(lm_lib.prefix_beam_search).parameters[name].default
    for name in ("beam_width", "lm_weight", "word_bonus", "oov_penalty")
}


class AudioError(ValueError):
    """The input is not audio this program can read (one-line message)."""


def stream_audio(path, block_seconds: float = 5.0):
    """Yields mono float32 blocks at 16 kHz from any file soundfile or librosa
    reads, any rate and channel count. Raises AudioError / FileNotFoundError."""
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"audio file {path} not found")
    if path.is_dir():
        raise AudioError(f"{path} is a directory, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes), expected audio")
    import soundfile
    import soxr

    try:
        handle = soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        yield from _stream_with_librosa(path, block_seconds)
        return
    with handle:
        if handle.samplerate <= 0 or handle.channels <= 0:
            raise AudioError(
                f"{path}: invalid header (rate {handle.samplerate}, "
                f"{handle.channels} channels)"
            )
        resampler = None
        if handle.samplerate != SAMPLE_RATE:
            resampler = soxr.ResampleStream(
                handle.samplerate, SAMPLE_RATE, 1, dtype="float32"
            )
        block = max(1, int(block_seconds * handle.samplerate))
        try:
            for chunk in handle.blocks(
                blocksize=block, dtype="float32", always_2d=True
            ):
                mono = chunk.mean(axis=1).astype(np.float32)
                yield resampler.resample_chunk(mono) if resampler else mono
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise AudioError(
                f"{path}: audio data is corrupt or truncated ({error})"
            ) from None
        if resampler:
            yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)


def _stream_with_librosa(path, block_seconds):
    import warnings

    import librosa

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            audio, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True)
    except Exception as error:  # audioread/ffmpeg raise many types
        raise AudioError(
            f"cannot decode {path} as audio (expected wav, flac, "
            f"ogg, mp3 or another format librosa reads): "
            f"{type(error).__name__}"
        ) from None
    block = int(block_seconds * SAMPLE_RATE)
    for start in range(0, audio.size, block):
        yield audio[start : start + block]


def split_on_silence(
    blocks, max_chunk_seconds: float = 15.0, min_chunk_seconds: float = 5.0
):
    """Regroups audio blocks into chunks of at most max_chunk_seconds, cut at
    the quietest 100 ms between min_chunk_seconds and max_chunk_seconds.

    Yields (start_seconds, chunk)."""
    limit = int(max_chunk_seconds * SAMPLE_RATE)
    earliest = int(min_chunk_seconds * SAMPLE_RATE)
    window = SAMPLE_RATE // 10
    buffer = np.zeros(0, np.float32)
    offset = 0
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        while buffer.size > limit:
            search = buffer[earliest:limit]
            energy = np.convolve(search**2, np.ones(window), mode="valid")
            cut = earliest + int(np.argmin(energy[::160]) * 160) + window // 2
            yield offset / SAMPLE_RATE, buffer[:cut]
            offset += cut
            buffer = buffer[cut:]
    if buffer.size:
        yield offset / SAMPLE_RATE, buffer


def is_silent(audio: np.ndarray, threshold_db: float = -55.0) -> bool:
    """True if no 25 ms frame is louder than threshold_db (re full scale)."""
    if audio.size == 0:
        return True
    frames = (
        audio[: audio.size // 400 * 400].reshape(-1, 400)
        if audio.size >= 400
        else audio[None]
    )
    loudest = float(np.max(np.mean(frames**2, axis=1)))
    return loudest <= 10 ** (threshold_db / 10)


@dataclasses.dataclass
class Transcriber:
    """A trained model + its language model, ready to transcribe."""

    model: object
    language_model: object
    time_stride: int
    decoder_settings: dict = dataclasses.field(
        default_factory=lambda: dict(DECODER_DEFAULTS)
    )

    @classmethod
    def load(cls, checkpoint_dir) -> "Transcriber":
        import apps.speech.model  # noqa: F401  registers the core layers it uses
        from core import runs

        checkpoint_dir = pathlib.Path(checkpoint_dir)
        model_path = checkpoint_dir / "model.keras"
        if not model_path.is_file():
            raise FileNotFoundError(
                f"no model.keras in {checkpoint_dir}; train one "
                "with `rnn-demos speech train`"
            )
        runs.configure_threads(2, 1)
        model = runs.load_model(model_path)
        config_path = checkpoint_dir / "config.json"
        strides = (2, 1)
        if config_path.is_file():
            strides = json.loads(config_path.read_text()).get("time_strides", strides)
        lm_path = checkpoint_dir / "lm.json"
        language_model = lm_lib.NgramLM.load(lm_path) if lm_path.is_file() else None
        settings = dict(DECODER_DEFAULTS)
        settings_path = checkpoint_dir / "decoder.json"
        if settings_path.is_file():
            stored = json.loads(settings_path.read_text())
            unknown = set(stored) - set(DECODER_DEFAULTS)
            if unknown:
                raise ValueError(
                    f"{settings_path}: unknown decoder settings {sorted(unknown)}; "
                    f"expected some of {sorted(DECODER_DEFAULTS)}"
                )
            settings.update(stored)
        return cls(model, language_model, int(np.prod(strides)), settings)

    @property
    def seconds_per_frame(self) -> float:
        return self.time_stride * features_lib.HOP / SAMPLE_RATE

    def log_probs(self, audio: np.ndarray) -> np.ndarray:
        """(samples,) 16 kHz audio -> (frames, classes) log-probabilities."""
        feats = features_lib.log_mel(audio)
        frames = feats.shape[0]
        # Pad to a multiple of 64 frames so the compiled predict function sees
        # few distinct shapes (padding with 0 as in training batches).
        padded = int(math.ceil(frames / 64) * 64)
        feats = np.pad(feats, ((0, padded - frames), (0, 0)))
        logits = self.model.predict_on_batch(feats[None])[0]
        keep = -(-frames // self.time_stride)
        return lm_lib.log_softmax(np.asarray(logits)[:keep])

    def decode(self, log_probs: np.ndarray, decoder: str = "beam_lm", **options) -> str:
        """Text of one utterance's log-probabilities. `options` (beam_width,
        lm_weight, word_bonus, oov_penalty; None = keep) override the
        checkpoint's `decoder_settings`."""
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
        unknown = set(options) - set(DECODER_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown decoder options {sorted(unknown)}")
        settings = {
            **self.decoder_settings,
            **{key: value for key, value in options.items() if value is not None},
        }
        if decoder == "greedy":
            return lm_lib.keras_decode(log_probs[None], [len(log_probs)])[0]
        if decoder == "beam":
            return lm_lib.keras_decode(
                log_probs[None],
                [len(log_probs)],
                "beam_search",
                int(settings["beam_width"]),
            )[0]
        if self.language_model is None:
            raise ValueError("decoder 'beam_lm' needs lm.json beside the model")
        return lm_lib.prefix_beam_search(
            log_probs,
            lm=self.language_model,
            lm_weight=settings["lm_weight"],
            word_bonus=settings["word_bonus"],
            oov_penalty=settings["oov_penalty"],
            beam_width=int(settings["beam_width"]),
        )

    def transcribe_audio(
        self,
        audio: np.ndarray,
        decoder: str = "beam_lm",
        offset: float = 0.0,
        **decode_options,
    ) -> dict:
        if is_silent(audio):
            return {"text": "", "words": []}
        log_probs = self.log_probs(audio)
        text = self.decode(log_probs, decoder, **decode_options)
        words = [
            (word, round(offset + start, 3), round(offset + end, 3))
            for word, start, end in lm_lib.word_timings(
                log_probs, text, self.seconds_per_frame
            )
        ]
        return {"text": text, "words": words}

    def transcribe_file(
        self,
        path,
        decoder: str = "beam_lm",
        max_chunk_seconds: float = 15.0,
        **decode_options,
    ) -> dict:
        """Transcript, word timings and duration of one audio file."""
        texts, words, duration, chunks = [], [], 0.0, 0
        for start, chunk in split_on_silence(
            stream_audio(path),
            max_chunk_seconds=max_chunk_seconds,
            min_chunk_seconds=max_chunk_seconds / 3,
        ):
            chunks += 1
            duration = start + chunk.size / SAMPLE_RATE
            result = self.transcribe_audio(
                chunk, decoder, offset=start, **decode_options
            )
            if result["text"]:
                texts.append(result["text"])
                words.extend(result["words"])
        if chunks == 0:
            raise AudioError(f"{path} holds no audio samples")
        return {
            "path": str(path),
            "text": " ".join(texts),
            "words": words,
            "seconds": round(duration, 3),
            "chunks": chunks,
            "speech_found": bool(texts),
        }
