"""Speech-to-text real-time factor benchmark; writes benchmarks/results/speech.json.

Real-time factor (RTF) = compute seconds / audio seconds of
`Transcriber.transcribe_file` (read, resample, features, network, decoding,
word timings) with the shipped checkpoint, on utterances spoken by held-out
voices and on one long file (split on silence). Baselines in the same run:
greedy vs beam vs beam+LM decoding, and PocketSphinx if installed.

Usage: python benchmarks/speech.py [--quick] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from apps.speech import data, text  # noqa: E402


def make_audio(folder, count, seed=0):
    """Held-out-voice utterances, and one long file of all of them in a row."""
    rng = np.random.default_rng(seed)
    paths, pieces = [], []
    for index in range(count):
        voice = data.HELDOUT_VOICES[index % len(data.HELDOUT_VOICES)]
        domain = text.DOMAINS[index % len(text.DOMAINS)]
        words = text.make_text(rng, domain)
        path = folder / f"utterance_{index}.wav"
        data.synthesize(words, voice, data._voice_parameters(rng, voice), path)
        paths.append(path)
        audio = data.read_audio_16k(path)
        pieces += [audio, np.zeros(data.SAMPLE_RATE // 3, np.float32)]
    long_path = folder / "long.wav"
    data.write_wav_atomic(long_path, np.concatenate(pieces), data.SAMPLE_RATE)
    return paths, long_path


def audio_seconds(path):
    import soundfile

    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def time_transcriber(transcriber, paths, decoder):
    transcriber.transcribe_file(paths[0], decoder)  # warm up (tracing)
    seconds = sum(audio_seconds(p) for p in paths)
    start = time.perf_counter()
    for path in paths:
        transcriber.transcribe_file(path, decoder)
    compute = time.perf_counter() - start
    return {"audio_seconds": round(seconds, 2), "compute_seconds": round(compute, 3),
            "rtf": round(compute / seconds, 4)}


def time_pocketsphinx(paths):
    from apps.speech import evaluate

    decoder = evaluate.pocketsphinx_decoder()
    if decoder is None:
        return None
    audios = [data.read_audio_16k(p) for p in paths]
    evaluate.pocketsphinx_transcribe(decoder, audios[0])
    start = time.perf_counter()
    for audio in audios:
        evaluate.pocketsphinx_transcribe(decoder, audio)
    compute = time.perf_counter() - start
    seconds = sum(a.size for a in audios) / data.SAMPLE_RATE
    return {"audio_seconds": round(seconds, 2), "compute_seconds": round(compute, 3),
            "rtf": round(compute / seconds, 4)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 utterances, not 30")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint",
                        default=str(ROOT / "apps/speech/checkpoints/default"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/speech.json"))
    args = parser.parse_args(argv)

    from apps.speech.transcribe import Transcriber
    from core import runs

    runs.configure_threads(args.threads, 1)
    transcriber = Transcriber.load(args.checkpoint)
    results = {"machine": {"cpu_count": os.cpu_count(),
                           "platform": platform.platform(),
                           "load_average_at_start": os.getloadavg()[0]},
               "threads": args.threads, "checkpoint": args.checkpoint,
               "parameters": int(transcriber.model.count_params())}
    with tempfile.TemporaryDirectory() as tmp:
        paths, long_path = make_audio(pathlib.Path(tmp), 6 if args.quick else 30)
        for decoder in ("greedy", "beam", "beam_lm"):
            results[f"utterances/{decoder}"] = time_transcriber(transcriber, paths,
                                                                decoder)
            print(decoder, results[f"utterances/{decoder}"], flush=True)
        results["long_file/beam_lm"] = time_transcriber(transcriber, [long_path],
                                                        "beam_lm")
        print("long file", results["long_file/beam_lm"], flush=True)
        sphinx = time_pocketsphinx(paths)
        if sphinx is not None:
            results["utterances/pocketsphinx"] = sphinx
            print("pocketsphinx", sphinx, flush=True)
    results["load_average_at_end"] = os.getloadavg()[0]
    results["target_rtf"] = 0.05
    runs.write_json_atomic(args.out, results)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
