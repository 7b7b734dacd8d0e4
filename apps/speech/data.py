"""Speech data: a synthetic corpus made with offline TTS, real-corpus loaders,
audio reading, and the `tf.data` training pipeline.

The corpus is split by voice: the held-out voices (and one whole engine,
festival) never appear in training. Audio and a JSONL manifest per split are
cached under `out/`; the same seed regenerates the same corpus.

Example:
    >>> records = make_corpus("out/speech/corpus", CorpusConfig(train_size=20))
"""

import csv
import dataclasses
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from apps.speech import text as text_lib

SAMPLE_RATE = 16000

ESPEAK_TRAIN_ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029")
ESPEAK_TRAIN_VARIANTS = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "f1",
    "f2",
    "f3",
    "f4",
    "klatt",
    "klatt2",
    "klatt3",
    "croak",
    "Andy",
    "john",
    "max",
    "steph",
    "linda",
    "robert",
    "edward",
    "belinda",
    "benjamin",
    "paul",
    "grandpa",
)
TRAIN_VOICES = tuple(
    [f"espeak:{a}+{v}" for a in ESPEAK_TRAIN_ACCENTS for v in ESPEAK_TRAIN_VARIANTS]
    + ["flite:kal16", "flite:rms", "flite:awb"]
)
# Voices and engines never used in training: other accents with other
# variants, a human-derived flite voice (the only female one) and festival.
HELDOUT_VOICES = (
    "espeak:en-gb-x-gbclan+f5",
    "espeak:en-gb-x-gbcwmd+m7",
    "espeak:en-gb-x-gbclan+klatt4",
    "espeak:en-gb-x-gbcwmd+Alicia",
    "flite:slt",
    "festival:ked_diphone",
)
# The wider training set (`CorpusConfig.extra_train_size`): every espeak-ng
# variant that is not held out (97 of 101) on six accents, and the flite voices
# pitch-shifted by sox (up to +6 semitones: higher, shorter-tract voices than
# the male flite voices alone give). Held-out accents and variants stay out.
ESPEAK_EXTRA_ACCENTS = ESPEAK_TRAIN_ACCENTS + ("en-us-nyc",)
ESPEAK_HELDOUT_VARIANTS = ("f5", "m7", "klatt4", "Alicia")


# Unseen voices for tuning the decoder (LM weight, word bonus): never in
# training, and none of them a test voice.
DEV_VOICES = (
    "festival:kal_diphone",
    "espeak:en-gb-x-gbcwmd+Annie",
    "espeak:en-gb-x-gbclan+grandma",
)


def espeak_variants() -> tuple[str, ...]:
    """The variant names espeak-ng has installed (`!v` folder), sorted."""
    found = []
    for root in (
        "/usr/lib/x86_64-linux-gnu/espeak-ng-data",
        "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
        "/usr/share/espeak-ng-data",
    ):
        folder = pathlib.Path(root) / "voices" / "!v"
        if folder.is_dir():
            found = sorted(path.name for path in folder.iterdir() if path.is_file())
            break
    return tuple(found or ESPEAK_TRAIN_VARIANTS)


def extra_train_voices() -> tuple[str, ...]:
    variants = [v for v in espeak_variants() if v not in ESPEAK_HELDOUT_VARIANTS]
    return tuple(
        [f"espeak:{a}+{v}" for a in ESPEAK_EXTRA_ACCENTS for v in variants]
        + ["flite:kal16", "flite:rms", "flite:awb", "flite:kal"]
    )


@dataclasses.dataclass
class CorpusConfig:
    """Size and seed of the synthetic corpus (one manifest per split)."""

    seed: int = 1234
    train_size: int = 4000
    valid_size: int = 150
    test_train_voices_size: int = 240
    test_heldout_per_voice: int = 50
    # More training utterances from the wider voice set, planned from a
    # second random stream so the splits above stay exactly the same.
    extra_train_size: int = 6000
    # The dev split (DEV_VOICES), from a third stream.
    dev_per_voice: int = 40
    domains: tuple[str, ...] = text_lib.DOMAINS
    workers: int = 2


def _voice_parameters(rng: np.random.Generator, voice: str, wide=False) -> dict:
    """Random speed/pitch/volume of one utterance; `wide`: the wider ranges of
    the extra training set (and a sox pitch shift of flite voices)."""
    engine = voice.split(":")[0]
    if engine == "espeak":
        return {
            "speed": int(rng.integers(125, 206) if wide else rng.integers(135, 196)),
            "pitch": int(rng.integers(5, 96) if wide else rng.integers(25, 76)),
            "amplitude": int(rng.integers(70, 160)),
        }
    stretch = round(float(rng.uniform(0.85, 1.2)), 3)
    if engine == "flite":
        params = {
            "stretch": stretch,
            "pitch_scale": round(float(rng.uniform(0.85, 1.15)), 3),
        }
        if wide and rng.random() < 0.6:
            params["shift_cents"] = int(rng.integers(100, 601))
        return params
    return {"stretch": stretch}


def synthesize(text: str, voice: str, params: dict, path) -> None:
    """Speak `text` with `voice` ("engine:name") into a 16 kHz mono wav at path."""
    engine, name = voice.split(":", 1)
    path = pathlib.Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.wav")
        if engine == "espeak":
            command = [
                "espeak-ng",
                "-v",
                name,
                "-s",
                str(params["speed"]),
                "-p",
                str(params["pitch"]),
                "-a",
                str(params["amplitude"]),
                "-w",
                raw,
                text,
            ]
        elif engine == "flite":
            default_f0 = {"slt": 160.0, "kal16": 105.0, "kal": 105.0}.get(name, 110.0)
            command = [
                "flite",
                "-voice",
                name,
                "--setf",
                f"duration_stretch={params['stretch']}",
                "--setf",
                f"int_f0_target_mean={default_f0 * params['pitch_scale']:.1f}",
                "-t",
                text,
                "-o",
                raw,
            ]
        elif engine == "festival":
            command = [
                "text2wave",
                "-eval",
                f"(voice_{name})",
                "-eval",
                f"(Parameter.set 'Duration_Stretch {params['stretch']})",
                "-o",
                raw,
            ]
        else:
            raise ValueError(f"unknown TTS engine {engine!r} in voice {voice!r}")
        try:
            subprocess.run(
                command,
                input=text.encode() if engine == "festival" else None,
                check=True,
                capture_output=True,
                timeout=60,
            )
        except FileNotFoundError as error:
            raise RuntimeError(
                f"TTS engine for {voice!r} is not installed "
                f"({command[0]}); run scripts/setup.sh"
            ) from error
        if params.get("shift_cents"):
            shifted = os.path.join(tmp, "shifted.wav")
            subprocess.run(
                ["sox", raw, shifted, "pitch", str(params["shift_cents"])],
                check=True,
                capture_output=True,
                timeout=60,
            )
            raw = shifted
        import soundfile

        audio, rate = soundfile.read(raw, dtype="float32", always_2d=True)
        audio = resample(audio.mean(axis=1), rate, SAMPLE_RATE)
        write_wav_atomic(path, audio, SAMPLE_RATE)


def resample(audio: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    if rate == target_rate:
        return audio.astype(np.float32)
    import soxr

    return soxr.resample(audio, rate, target_rate).astype(np.float32)


def write_wav_atomic(path, audio: np.ndarray, rate: int) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.wav")
    import soundfile

    soundfile.write(tmp, np.clip(audio, -1.0, 1.0), rate, subtype="PCM_16")
    os.replace(tmp, path)


def write_jsonl_atomic(path, records) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    os.replace(tmp, path)


def read_jsonl(path) -> list:
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _sample_training_voice(rng, voices):
    # espeak-ng has a hundred variants but only three human-derived flite
    # voices exist in training: give flite 40% of the utterances.
    flite = [voice for voice in voices if voice.startswith("flite:")]
    others = [voice for voice in voices if not voice.startswith("flite:")]
    pool = flite if flite and (not others or rng.random() < 0.4) else others
    return pool[int(rng.integers(len(pool)))]


def _plan_split(rng, split, voices, size, domains, seen_texts, wide=False):
    plan = []
    for index in range(size):
        domain = domains[index % len(domains)]
        voice = (
            voices[index % len(voices)]
            if split in ("test_heldout_voices", "dev_unseen_voices")
            else _sample_training_voice(rng, voices)
        )
        for _ in range(50):
            text = text_lib.make_text(rng, domain)
            if text not in seen_texts:
                break
        params = _voice_parameters(rng, voice, wide)
        plan.append(
            {
                "split": split,
                "domain": domain,
                "voice": voice,
                "engine": voice.split(":")[0],
                "text": text,
                "params": params,
            }
        )
    return plan


def plan_corpus(config: CorpusConfig) -> list:
    """The list of utterances (text, voice, parameters, split) for a seed."""
    rng = np.random.default_rng(config.seed)
    domains = tuple(config.domains)
    train = _plan_split(rng, "train", TRAIN_VOICES, config.train_size, domains, set())
    seen = {item["text"] for item in train}
    valid = _plan_split(rng, "valid", TRAIN_VOICES, config.valid_size, domains, seen)
    test_train = _plan_split(
        rng,
        "test_train_voices",
        TRAIN_VOICES,
        config.test_train_voices_size,
        domains,
        seen,
    )
    test_heldout = _plan_split(
        rng,
        "test_heldout_voices",
        HELDOUT_VOICES,
        config.test_heldout_per_voice * len(HELDOUT_VOICES),
        domains,
        seen,
    )
    tested = {item["text"] for item in valid + test_train + test_heldout}
    extra = _plan_split(
        np.random.default_rng([config.seed, 1]),
        "train",
        extra_train_voices(),
        config.extra_train_size,
        domains,
        tested,
        wide=True,
    )
    dev = _plan_split(
        np.random.default_rng([config.seed, 2]),
        "dev_unseen_voices",
        DEV_VOICES,
        config.dev_per_voice * len(DEV_VOICES),
        domains,
        tested,
    )
    return train + extra + valid + test_train + test_heldout + dev


def make_corpus(out_dir, config: CorpusConfig, log=print) -> dict:
    """Synthesize the planned corpus into out_dir; returns {split: records}.

    Audio already in the cache (same text, voice and parameters) is reused.
    """
    import soundfile

    out_dir = pathlib.Path(out_dir)
    plan = plan_corpus(config)
    for item in plan:
        key = json.dumps([item["voice"], item["text"], item["params"]], sort_keys=True)
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        item["path"] = f"audio/{digest}.wav"
    todo = [item for item in plan if not (out_dir / item["path"]).exists()]
    log(f"corpus: {len(plan)} utterances, {len(todo)} to synthesize")

    def work(item):
        synthesize(item["text"], item["voice"], item["params"], out_dir / item["path"])

    with ThreadPoolExecutor(max_workers=max(1, config.workers)) as pool:
        for done, _ in enumerate(pool.map(work, todo), 1):
            if done % 500 == 0:
                log(f"  synthesized {done}/{len(todo)}")
    splits = {}
    for item in plan:
        info = soundfile.info(str(out_dir / item["path"]))
        item["seconds"] = round(info.frames / info.samplerate, 3)
        splits.setdefault(item["split"], []).append(item)
    for split, records in splits.items():
        write_jsonl_atomic(out_dir / f"{split}.jsonl", records)
    with open(out_dir / "corpus_config.json.tmp", "w") as handle:
        json.dump(dataclasses.asdict(config), handle, indent=2)
    os.replace(out_dir / "corpus_config.json.tmp", out_dir / "corpus_config.json")
    return splits


def check_tts_engines() -> list:
    """Names of the TTS programs this corpus needs that are not installed."""
    return [
        name
        for name in ("espeak-ng", "flite", "text2wave", "sox")
        if shutil.which(name) is None
    ]


# ---------------------------------------------------------------- loaders


def load_librispeech(root) -> list:
    """LibriSpeech layout: speaker/chapter/<id>.trans.txt with <id>.flac beside."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"LibriSpeech root {root} is not a directory")
    records = []
    for transcript in sorted(root.rglob("*.trans.txt")):
        for line in transcript.read_text().splitlines():
            if not line.strip():
                continue
            utterance_id, _, words = line.strip().partition(" ")
            audio = transcript.parent / f"{utterance_id}.flac"
            if not audio.exists():
                raise FileNotFoundError(
                    f"{transcript} names {utterance_id} but {audio} is missing"
                )
            records.append(
                {
                    "path": str(audio),
                    "text": text_lib.normalize_text(words),
                    "voice": utterance_id.split("-")[0],
                    "domain": "librispeech",
                }
            )
    if not records:
        raise ValueError(f"no *.trans.txt transcripts found under {root}")
    return records


def load_ljspeech(root) -> list:
    """LJSpeech layout: metadata.csv ("id|text|normalized text") + wavs/<id>.wav."""
    root = pathlib.Path(root)
    metadata = root / "metadata.csv"
    if not metadata.exists():
        raise FileNotFoundError(f"LJSpeech metadata {metadata} not found")
    records = []
    with open(metadata, newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE):
            if not row:
                continue
            if len(row) < 2:
                raise ValueError(
                    f"{metadata}: expected 'id|text[|normalized]', "
                    f"got {'|'.join(row)!r}"
                )
            words = row[2] if len(row) > 2 and row[2].strip() else row[1]
            records.append(
                {
                    "path": str(root / "wavs" / f"{row[0]}.wav"),
                    "text": text_lib.normalize_text(words),
                    "voice": "lj",
                    "domain": "ljspeech",
                }
            )
    return records


def load_manifest(path) -> list:
    """A CSV (header with `path` and `text`) or JSONL ({"path":..., "text":...}).

    Relative audio paths are resolved against the manifest's folder.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"manifest {path} not found")
    if path.suffix == ".jsonl":
        rows = read_jsonl(path)
    elif path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    else:
        raise ValueError(f"manifest {path} must end in .csv or .jsonl")
    records = []
    for number, row in enumerate(rows, 1):
        if "path" not in row or "text" not in row:
            raise ValueError(
                f"{path} row {number}: needs 'path' and 'text' fields, "
                f"got {sorted(row)}"
            )
        audio = pathlib.Path(row["path"])
        if not audio.is_absolute():
            audio = path.parent / audio
        record = dict(row)
        record.update(path=str(audio), text=text_lib.normalize_text(row["text"]))
        record.setdefault("voice", "unknown")
        record.setdefault("domain", "manifest")
        records.append(record)
    return records


def load_records(source) -> list:
    """Records from a corpus split manifest, a manifest file, or a corpus root."""
    source = pathlib.Path(source)
    if source.is_file():
        return load_manifest(source)
    if (source / "metadata.csv").exists():
        return load_ljspeech(source)
    if source.is_dir() and any(source.rglob("*.trans.txt")):
        return load_librispeech(source)
    raise FileNotFoundError(
        f"{source}: expected a .jsonl/.csv manifest, an "
        "LJSpeech folder or a LibriSpeech folder"
    )


# ---------------------------------------------------------------- pipeline


def read_audio_16k(path) -> np.ndarray:
    """A short file as mono float32 at 16 kHz (corpus/training use)."""
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return resample(audio.mean(axis=1), rate, SAMPLE_RATE)


def load_audio_records(records, log=None) -> list:
    """Reads every record's audio into memory (int16, to halve the footprint)."""
    loaded = []
    for number, record in enumerate(records, 1):
        audio = read_audio_16k(record["path"])
        loaded.append(
            {**record, "audio": (np.clip(audio, -1, 1) * 32767).astype(np.int16)}
        )
        if log and number % 1000 == 0:
            log(f"  loaded {number}/{len(records)} files")
    return loaded


def make_dataset(
    records,
    *,
    batch_size=32,
    augment=None,
    shuffle=True,
    seed=0,
    bucket_boundaries=(150, 200, 250, 300, 400, 600),
):
    """A `tf.data.Dataset` of (features (B, T, 80), labels (B, L)) batches.

    Utterances of similar length are batched together (bucketing) so little
    compute goes to padding; features are padded with 0 (the utterance mean)
    and labels with 0 (the CTC blank, which `keras.losses.CTC` reads as
    padding). Augmentation (an `AugmentConfig`) is drawn afresh every epoch.
    """
    import tensorflow as tf

    from apps.speech import features as features_lib

    epoch = [0]

    def generate():
        rng = np.random.default_rng([seed, epoch[0]])
        epoch[0] += 1
        order = rng.permutation(len(records)) if shuffle else range(len(records))
        for index in order:
            record = records[index]
            audio = record["audio"].astype(np.float32) / 32767.0
            if augment is not None:
                audio = features_lib.augment_audio(audio, augment, rng)
            feats = features_lib.log_mel(audio)
            if augment is not None:
                feats = features_lib.spec_augment(feats, augment, rng)
            labels = text_lib.encode(record["text"])
            # CTC needs at least one output frame per label (time stride 2).
            if len(labels) == 0 or len(labels) > feats.shape[0] // 2 - 1:
                continue
            yield feats, labels

    dataset = tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec((None, features_lib.NUM_MELS), tf.float32),
            tf.TensorSpec((None,), tf.int32),
        ),
    )
    boundaries = list(bucket_boundaries)
    dataset = dataset.bucket_by_sequence_length(
        lambda feats, labels: tf.shape(feats)[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=(0.0, 0),
    )
    return dataset.prefetch(2)


# ------------------------------------------- precomputed features (any backend)

FEATURE_SCALE = 10.0  # int8 steps per unit of normalised log-mel


def _feature_chunk(args):
    """Features of records[i] for the (index, record) pairs of one worker."""
    from apps.speech import features as features_lib

    pairs, augment, seed = args
    chunks, lengths, texts = [], [], []
    for index, record in pairs:
        audio = read_audio_16k(record["path"])
        if augment is not None:
            rng = np.random.default_rng([seed, index])
            audio = features_lib.augment_audio(audio, augment, rng)
        feats = features_lib.log_mel(audio)
        chunks.append(
            np.clip(np.round(feats * FEATURE_SCALE), -127, 127).astype(np.int8)
        )
        lengths.append(feats.shape[0])
        texts.append(record["text"])
    return chunks, lengths, texts


def export_features(records, path, augment=None, seed=0, log=None, workers=1) -> None:
    """Stores log-mel features (int8, compressed) and labels of records in an npz.

    Used to train from precomputed features (on this CPU, or on an accelerator
    machine with JAX where TensorFlow and the TTS engines are absent): the
    features are computed once per utterance, with one draw of waveform
    augmentation each (`augment`, an `AugmentConfig`; the draw depends only on
    `seed` and the record's position, not on `workers`); SpecAugment and the
    frequency warp are applied afresh when training.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    indexed = list(enumerate(records))
    size = 250
    jobs = [
        (indexed[start : start + size], augment, seed)
        for start in range(0, len(indexed), size)
    ]
    chunks, lengths, texts = [], [], []
    if workers > 1:
        context = multiprocessing.get_context("spawn")  # no fork after TF started
        pool = ProcessPoolExecutor(workers, mp_context=context)
        results = pool.map(_feature_chunk, jobs)
    else:
        pool, results = None, map(_feature_chunk, jobs)
    try:
        for part in results:
            chunks += part[0]
            lengths += part[1]
            texts += part[2]
            if log:
                log(f"  features {len(lengths)}/{len(records)}")
    finally:
        if pool is not None:
            pool.shutdown()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        features=np.concatenate(chunks),
        lengths=np.array(lengths, np.int32),
        texts=np.array(texts),
    )
    os.replace(tmp, path)


def load_features(path) -> list:
    """[(features float32 (T, 80), text)] from an `export_features` npz."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature file {path} not found")
    with np.load(path) as stored:
        features = stored["features"].astype(np.float32) / FEATURE_SCALE
        ends = np.cumsum(stored["lengths"])
        texts = [str(t) for t in stored["texts"]]
    starts = np.concatenate([[0], ends[:-1]])
    return [(features[s:e], t) for s, e, t in zip(starts, ends, texts, strict=True)]
