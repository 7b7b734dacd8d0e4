"""`rnn-demos speech <verb>` (make-corpus, export-features, train, tune-decoder,
evaluate, transcribe) and the speech step of `rnn-demos demo`."""

import json
import logging
import pathlib
import sys
import time

from core.config import add_config_arguments, load_config

DEFAULT_CHECKPOINT = pathlib.Path(__file__).parent / "checkpoints" / "default"
DEMO_SENTENCE = "turn left and go forward ten meters"
DEMO_VOICE = "espeak:en-gb-x-gbclan+f5"


def _run(function):
    """Wraps a verb: user errors become one line on stderr and exit status 2."""

    def wrapped(args) -> int:
        from apps.speech.transcribe import AudioError

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        try:
            return function(args)
        except (AudioError, ValueError, FileNotFoundError, RuntimeError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return wrapped


def _make_corpus(args) -> int:
    from apps.speech import data

    missing = data.check_tts_engines()
    if missing:
        raise RuntimeError(
            f"TTS programs not installed: {', '.join(missing)} (run scripts/setup.sh)"
        )
    config = load_config(data.CorpusConfig, args.config, args.overrides)
    splits = data.make_corpus(args.out, config)
    for split, records in splits.items():
        hours = sum(r["seconds"] for r in records) / 3600
        print(
            f"{split}: {len(records)} utterances, {hours:.2f} h -> "
            f"{pathlib.Path(args.out) / (split + '.jsonl')}"
        )
    return 0


def _export_features(args) -> int:
    from apps.speech import data, features

    corpus = pathlib.Path(args.corpus)
    out = pathlib.Path(args.out)
    data.export_features(data.load_records(corpus / "valid.jsonl"), out / "valid.npz")
    data.export_features(data.load_records(corpus / "train.jsonl"),
                         out / "train.npz", augment=features.AugmentConfig(),
                         seed=args.seed, log=logging.info, workers=args.workers)
    print(f"wrote {out / 'train.npz'} and {out / 'valid.npz'}")
    return 0


def _train(args) -> int:
    from apps.speech import train

    config = load_config(train.TrainConfig, args.config, args.overrides)
    metrics = train.train(config)
    print(json.dumps({k: v for k, v in metrics.items() if k != "history"}))
    return 0


def _tune_decoder(args) -> int:
    from apps.speech import evaluate

    config = load_config(evaluate.TuneConfig, args.config, args.overrides)
    results = evaluate.tune_decoder(config)
    print("lm_weight word_bonus oov_penalty  WER %  CER %")
    for row in results["grid"]:
        print(f"{row['lm_weight']:9} {row['word_bonus']:10} {row['oov_penalty']:11}"
              f"  {row['wer']:5}  {row['cer']:5}")
    where = f" -> {config.checkpoint}/decoder.json" if config.write else ""
    print(f"best on {results['utterances']} utterances: {results['best']}{where}")
    return 0


def _evaluate(args) -> int:
    from apps.speech import evaluate

    config = load_config(evaluate.EvaluateConfig, args.config, args.overrides)
    evaluate.evaluate(config)
    print(pathlib.Path(config.out).with_suffix(".md").read_text())
    return 0


def _transcribe(args) -> int:
    from apps.speech.transcribe import Transcriber

    transcriber = Transcriber.load(args.checkpoint)
    status = 0
    for path in args.audio:
        start = time.perf_counter()
        try:
            result = transcriber.transcribe_file(
                path,
                args.decoder,
                max_chunk_seconds=args.max_chunk_seconds,
                beam_width=args.beam_width,
                lm_weight=args.lm_weight,
                word_bonus=args.word_bonus,
            )
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            status = 2
            continue
        result["compute_seconds"] = round(time.perf_counter() - start, 3)
        if args.json:
            print(json.dumps(result))
        else:
            note = "" if result["speech_found"] else "  (no speech found)"
            print(f"{path}: {result['text']}{note}")
            if args.words:
                for word, begin, end in result["words"]:
                    print(f"  {begin:8.2f} {end:8.2f}  {word}")
    return status


def add_commands(subparsers) -> None:
    """Adds the speech verbs to the `rnn-demos speech` subparsers."""
    corpus = subparsers.add_parser(
        "make-corpus", help="synthesize the TTS corpus (audio + JSONL manifests)"
    )
    corpus.add_argument("--out", default="out/speech/corpus")
    add_config_arguments(corpus)
    corpus.set_defaults(func=_run(_make_corpus))

    export = subparsers.add_parser(
        "export-features",
        help="precompute (augmented) features once: the fastest way to train on "
        "a CPU, and the way to train where there is no TTS (a GPU machine)")
    export.add_argument("--corpus", default="out/speech/corpus")
    export.add_argument("--out", default="out/speech/features")
    export.add_argument("--seed", type=int, default=11)
    export.add_argument("--workers", type=int, default=2,
                        help="processes computing features (default 2)")
    export.set_defaults(func=_run(_export_features))

    train = subparsers.add_parser("train", help="train the CTC model")
    add_config_arguments(train)
    train.set_defaults(func=_run(_train))

    evaluate = subparsers.add_parser(
        "evaluate", help="WER/CER by voice, domain, decoder and noise level"
    )
    add_config_arguments(evaluate)
    evaluate.set_defaults(func=_run(_evaluate))

    tune = subparsers.add_parser(
        "tune-decoder",
        help="choose the LM weight and word bonus on the dev split (unseen, "
        "non-test voices); writes the checkpoint's decoder.json",
    )
    add_config_arguments(tune)
    tune.set_defaults(func=_run(_tune_decoder))

    transcribe = subparsers.add_parser(
        "transcribe", help="transcribe audio files (any format librosa reads)"
    )
    transcribe.add_argument("audio", nargs="+", help="audio files")
    transcribe.add_argument(
        "--checkpoint",
        default=str(DEFAULT_CHECKPOINT),
        help="folder with model.keras (+ lm.json, config.json)",
    )
    transcribe.add_argument(
        "--decoder", default="beam_lm", choices=("greedy", "beam", "beam_lm")
    )
    transcribe.add_argument("--beam-width", type=int, default=None,
                            help="default: the checkpoint's decoder.json, else 24")
    transcribe.add_argument("--lm-weight", type=float, default=None,
                            help="default: the checkpoint's decoder.json, else 0.8")
    transcribe.add_argument("--word-bonus", type=float, default=None,
                            help="default: the checkpoint's decoder.json, else 1.0")
    transcribe.add_argument("--max-chunk-seconds", type=float, default=15.0)
    transcribe.add_argument("--words", action="store_true", help="print word timings")
    transcribe.add_argument(
        "--json", action="store_true", help="one JSON object per file"
    )
    transcribe.set_defaults(func=_run(_transcribe))


def demo(out_dir: pathlib.Path) -> list:
    """Speaks a sentence with a held-out voice and transcribes it."""
    from apps.speech import data
    from apps.speech.lm import error_rates
    from apps.speech.transcribe import Transcriber

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav = out_dir / "speech_demo.wav"
    data.synthesize(
        DEMO_SENTENCE, DEMO_VOICE, {"speed": 165, "pitch": 50, "amplitude": 100}, wav
    )
    start = time.perf_counter()
    transcriber = Transcriber.load(DEFAULT_CHECKPOINT)
    result = transcriber.transcribe_file(wav)
    seconds = time.perf_counter() - start
    rates = error_rates([DEMO_SENTENCE], [result["text"]])
    (out_dir / "speech_demo.txt").write_text(
        f"voice: {DEMO_VOICE} (held out of training)\nsaid: {DEMO_SENTENCE}\n"
        f"heard: {result['text']}\nwords: {result['words']}\n"
    )
    return [
        ("speech: said", DEMO_SENTENCE),
        ("speech: heard", result["text"]),
        ("speech: WER", f"{100 * rates['wer']:.0f}%"),
        ("speech: seconds (load + transcribe)", f"{seconds:.1f}"),
        ("speech: audio", str(wav)),
    ]
