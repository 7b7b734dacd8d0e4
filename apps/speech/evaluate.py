"""WER/CER of trained checkpoints (and optionally PocketSphinx) on the test
splits: held-out voices vs training voices, greedy / beam / beam+LM, clean and
with white noise at 20 dB and 10 dB SNR, broken down by voice and domain.

Example:
    rnn-demos speech evaluate --set checkpoints=apps/speech/checkpoints/default \
        --set out=out/speech/eval.json
"""

import collections
import dataclasses
import logging
import pathlib
import time

import numpy as np

from apps.speech import data
from apps.speech import features as features_lib
from apps.speech import lm as lm_lib
from apps.speech.transcribe import Transcriber
from core import runs

log = logging.getLogger("apps.speech")


@dataclasses.dataclass
class EvaluateConfig:
    """What to evaluate and how."""

    checkpoints: tuple[str, ...] = ("apps/speech/checkpoints/default",)
    manifests: tuple[str, ...] = (
        "out/speech/corpus/test_heldout_voices.jsonl",
        "out/speech/corpus/test_train_voices.jsonl",
    )
    conditions: tuple[str, ...] = ("clean", "20", "10")
    decoders: tuple[str, ...] = ("greedy", "beam", "beam_lm")
    max_per_manifest: int = 0
    # None: each checkpoint's own settings (its decoder.json, else defaults)
    beam_width: int | None = None
    lm_weight: float | None = None
    word_bonus: float | None = None
    pocketsphinx: bool = False
    seed: int = 99
    out: str = "out/speech/eval.json"


def noisy(audio: np.ndarray, condition: str, seed: int) -> np.ndarray:
    """The test audio for a condition: "clean" or an SNR in dB (white noise)."""
    if condition == "clean":
        return audio
    try:
        snr = float(condition)
    except ValueError:
        raise ValueError(
            f"condition must be 'clean' or an SNR in dB, got {condition!r}"
        ) from None
    return features_lib.add_noise(audio, snr, np.random.default_rng(seed))


def pocketsphinx_decoder():
    """PocketSphinx's bundled en-US model, or None if it is not installed."""
    try:
        from pocketsphinx import Decoder
    except ImportError:
        return None
    return Decoder(loglevel="FATAL") if _accepts_loglevel() else Decoder()


def _accepts_loglevel():
    try:
        from pocketsphinx import Decoder

        Decoder(loglevel="FATAL")
        return True
    except Exception:  # older versions take no such option
        return False


def pocketsphinx_transcribe(decoder, audio: np.ndarray) -> str:
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    words = hypothesis.hypstr if hypothesis is not None else ""
    return " ".join(
        word.split("(")[0]
        for word in words.lower().split()
        if not word.startswith("<") and not word.startswith("[")
    )


def summarise(rows, keys) -> list:
    """Groups rows by `keys` and computes WER/CER per group."""
    groups = collections.defaultdict(list)
    for row in rows:
        groups[tuple(row[key] for key in keys)].append(row)
    table = []
    for group_key, items in sorted(groups.items()):
        rates = lm_lib.error_rates(
            [r["reference"] for r in items], [r["hypothesis"] for r in items]
        )
        table.append(
            {
                **dict(zip(keys, group_key, strict=True)),
                "n": len(items),
                "wer": round(100 * rates["wer"], 2),
                "cer": round(100 * rates["cer"], 2),
            }
        )
    return table


def evaluate(config: EvaluateConfig) -> dict:
    """Decodes every test utterance under every condition; returns the tables."""
    runs.set_seed(config.seed)
    rows, timing = [], collections.defaultdict(float)
    split_records = {}
    for manifest in config.manifests:
        records = data.load_records(manifest)
        if config.max_per_manifest:
            # A seeded random subset: a regular stride would pick one domain
            # (domains and voices cycle through the manifests).
            keep = np.random.default_rng(config.seed).permutation(len(records))
            records = [records[i] for i in sorted(keep[: config.max_per_manifest])]
        split_records[pathlib.Path(manifest).stem] = data.load_audio_records(records)
    systems = [
        (pathlib.Path(path).name, Transcriber.load(path)) for path in config.checkpoints
    ]
    sphinx = pocketsphinx_decoder() if config.pocketsphinx else None
    if config.pocketsphinx and sphinx is None:
        log.warning(
            "pocketsphinx is not installed; skipping it (pip install pocketsphinx)"
        )
    audio_seconds = 0.0
    for split, records in split_records.items():
        for condition in config.conditions:
            log.info(
                "evaluating %s / %s (%d utterances)", split, condition, len(records)
            )
            for index, record in enumerate(records):
                if index and index % 100 == 0:
                    log.info("  %d/%d", index, len(records))
                audio = noisy(
                    record["audio"].astype(np.float32) / 32767.0,
                    condition,
                    config.seed * 100003 + index,
                )
                audio_seconds += audio.size / features_lib.SAMPLE_RATE
                base = {
                    "split": split,
                    "condition": condition,
                    "voice": record["voice"],
                    "domain": record["domain"],
                    "reference": record["text"],
                }
                for name, transcriber in systems:
                    start = time.perf_counter()
                    log_probs = transcriber.log_probs(audio)
                    timing[(name, "network")] += time.perf_counter() - start
                    for decoder in config.decoders:
                        start = time.perf_counter()
                        hypothesis = transcriber.decode(
                            log_probs,
                            decoder,
                            beam_width=config.beam_width,
                            lm_weight=config.lm_weight,
                            word_bonus=config.word_bonus,
                        )
                        timing[(name, decoder)] += time.perf_counter() - start
                        rows.append(
                            {
                                **base,
                                "model": name,
                                "decoder": decoder,
                                "hypothesis": hypothesis,
                            }
                        )
                if sphinx is not None:
                    start = time.perf_counter()
                    hypothesis = pocketsphinx_transcribe(sphinx, audio)
                    timing[("pocketsphinx", "decode")] += time.perf_counter() - start
                    rows.append(
                        {
                            **base,
                            "model": "pocketsphinx",
                            "decoder": "pocketsphinx",
                            "hypothesis": hypothesis,
                        }
                    )
    results = {
        "config": dataclasses.asdict(config),
        "overall": summarise(rows, ("split", "condition", "model", "decoder")),
        "by_voice": summarise(
            [r for r in rows if r["condition"] == "clean"],
            ("split", "voice", "model", "decoder"),
        ),
        "by_domain": summarise(
            [r for r in rows if r["condition"] == "clean"],
            ("split", "domain", "model", "decoder"),
        ),
        "seconds": {
            f"{name}/{part}": round(value, 2) for (name, part), value in timing.items()
        },
        "audio_seconds_per_system": round(audio_seconds, 1),
        "examples": [r for r in rows if r["condition"] == "clean"][:40],
    }
    runs.write_json_atomic(config.out, results)
    write_markdown(results, pathlib.Path(config.out).with_suffix(".md"))
    return results


def write_markdown(results, path) -> None:
    lines = [
        "| split | condition | model | decoder | n | WER % | CER % |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["overall"]:
        lines.append(
            f"| {row['split']} | {row['condition']} | {row['model']} | "
            f"{row['decoder']} | {row['n']} | {row['wer']} | {row['cer']} |"
        )
    for section, key in (("voice", "by_voice"), ("domain", "by_domain")):
        lines += [
            "",
            f"Clean audio, by {section}:",
            "",
            f"| split | {section} | model | decoder | n | WER % | CER % |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in results[key]:
            lines.append(
                f"| {row['split']} | {row[section]} | {row['model']} | "
                f"{row['decoder']} | {row['n']} | {row['wer']} | "
                f"{row['cer']} |"
            )
    runs.write_text_atomic(path, "\n".join(lines) + "\n")


@dataclasses.dataclass
class TuneConfig:
    """A grid over the LM fusion weights, scored on unseen (non-test) voices."""

    checkpoint: str = "out/speech/run_default"
    manifest: str = "out/speech/corpus/dev_unseen_voices.jsonl"
    # the dev voices are easy when clean: noise makes the grid tell apart
    conditions: tuple[str, ...] = ("clean", "10")
    seed: int = 98
    lm_weights: tuple[float, ...] = (0.4, 0.6, 0.8, 1.0, 1.3, 1.6)
    word_bonuses: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
    oov_penalties: tuple[float, ...] = (-6.0,)
    write: bool = True
    out: str = "out/speech/eval/tune_decoder.json"


def tune_decoder(config: TuneConfig) -> dict:
    """Scores every (lm_weight, word_bonus, oov_penalty) on the manifest's audio
    under each condition, pooled (the network runs once per utterance and
    condition) and, with `write`, stores the best (lowest WER, then CER) as the
    checkpoint's decoder.json."""
    records = data.load_audio_records(data.load_records(config.manifest))
    transcriber = Transcriber.load(config.checkpoint)
    log_probs, references = [], []
    for condition in config.conditions:
        for index, record in enumerate(records):
            audio = record["audio"].astype(np.float32) / 32767.0
            audio = noisy(audio, condition, config.seed * 100003 + index)
            log_probs.append(transcriber.log_probs(audio))
            references.append(record["text"])
    grid = []
    for lm_weight in config.lm_weights:
        for word_bonus in config.word_bonuses:
            for oov_penalty in config.oov_penalties:
                settings = {"lm_weight": lm_weight, "word_bonus": word_bonus,
                            "oov_penalty": oov_penalty}
                hypotheses = [transcriber.decode(lp, "beam_lm", **settings)
                              for lp in log_probs]
                rates = lm_lib.error_rates(references, hypotheses)
                grid.append({**settings, "wer": round(100 * rates["wer"], 2),
                             "cer": round(100 * rates["cer"], 2)})
                log.info("%s", grid[-1])
    best = min(grid, key=lambda row: (row["wer"], row["cer"]))
    chosen = {key: best[key] for key in ("lm_weight", "word_bonus", "oov_penalty")}
    results = {"config": dataclasses.asdict(config), "utterances": len(references),
               "grid": grid, "best": best}
    runs.write_json_atomic(config.out, results)
    if config.write:
        settings = {**transcriber.decoder_settings, **chosen}
        runs.write_json_atomic(pathlib.Path(config.checkpoint) / "decoder.json",
                               settings)
    return results
