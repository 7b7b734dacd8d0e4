"""`rnn-demos recsys simulate|train|evaluate|recommend` and the demo step."""

from __future__ import annotations

import json
import pathlib

APP_DIR = pathlib.Path(__file__).parent
CONFIG_DIR = APP_DIR / "configs"


def _simulate(args):
    from apps.recsys.data import SessionSimulator, SimulatorConfig, save_events
    from core.config import load_config

    config = load_config(SimulatorConfig, args.config, args.overrides)
    simulator = SessionSimulator(config)
    events = simulator.simulate()
    out = pathlib.Path(args.out)
    save_events(events, out)
    simulator.save(out.with_name(out.stem + ".simulator.json"))
    print(
        f"wrote {len(events)} events, {events.n_sessions} sessions, "
        f"{config.n_items} items to {out} (simulator config beside it)"
    )
    return 0


def _train(args):
    from apps.recsys.train import TrainConfig, train
    from core.config import load_config

    config = load_config(TrainConfig, args.config, args.overrides)
    metrics = train(config, args.out)
    print(f"run folder: {args.out}")
    return 0 if metrics else 1


def _evaluate(args):
    from apps.recsys.evaluate import evaluate_run, format_table
    from core.runs import write_json_atomic, write_text_atomic

    cutoffs = tuple(int(k) for k in args.cutoffs.split(","))
    baselines = tuple(b for b in args.baselines.split(",") if b)
    results = evaluate_run(
        args.model, baselines=baselines, cutoffs=cutoffs, ties=args.ties
    )
    ceiling = "Bayes ceiling" if "Bayes ceiling" in results else None
    shown = tuple(k for k in (5, 20) if k in cutoffs) or cutoffs[-1:]
    if ceiling and 20 not in cutoffs:
        ceiling = None
    table = format_table(results, cutoffs=shown, ceiling_name=ceiling)
    print(table)
    out = pathlib.Path(args.out or pathlib.Path(args.model) / "evaluation")
    write_json_atomic(out / "results.json", {"ties": args.ties, "results": results})
    write_text_atomic(out / "results.md", table + "\n")
    print(f"wrote {out}/results.json and results.md")
    return 0


def _recommend(args):
    from apps.recsys.recommend import Recommender, parse_session, read_sessions_file

    if (args.session is None) == (args.sessions_file is None):
        raise ValueError(
            "give exactly one of --session 12,45,7 or --sessions-file PATH"
        )
    sessions = (
        [parse_session(args.session)]
        if args.session is not None
        else read_sessions_file(args.sessions_file)
    )
    recommender = Recommender.load(args.model)
    results = [recommender.recommend(session, k=args.k) for session in sessions]
    if args.json:
        for result in results:
            print(json.dumps(result.as_dict()))
    else:
        for result in results:
            print("session: " + ",".join(str(i) for i in result.session))
            for line in result.lines():
                print(line)
    return 0


def add_commands(subparsers) -> None:
    """Adds the recsys verbs to the app's argparse subparsers."""
    from core.config import add_config_arguments

    simulate = subparsers.add_parser(
        "simulate", help="write a simulated events CSV (latent-intent sessions)"
    )
    add_config_arguments(simulate)
    simulate.add_argument(
        "--out", default="out/recsys/simulated.csv", help="events CSV to write"
    )
    simulate.set_defaults(func=_simulate)

    train = subparsers.add_parser(
        "train", help="train GRU4Rec (default: the embedded simulation)"
    )
    add_config_arguments(train)
    train.add_argument("--out", default="out/recsys/train", help="run folder")
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="GRU4Rec vs POP, S-POP, item-KNN, Markov and the ceiling"
    )
    evaluate.add_argument(
        "--model", default="out/recsys/train", help="run folder written by train"
    )
    evaluate.add_argument(
        "--baselines",
        default="pop,spop,itemknn,markov",
        help="comma-separated baselines ('' for none)",
    )
    evaluate.add_argument("--cutoffs", default="1,5,10,20", help="K values")
    evaluate.add_argument(
        "--ties", default="conservative", choices=["conservative", "standard"]
    )
    evaluate.add_argument(
        "--out", default=None, help="output folder (default: <model>/evaluation)"
    )
    evaluate.set_defaults(func=_evaluate)

    recommend = subparsers.add_parser(
        "recommend", help="top-k next items for a session"
    )
    recommend.add_argument(
        "--model",
        default=str(APP_DIR / "checkpoints" / "simulator"),
        help="run folder (default: the shipped checkpoint)",
    )
    recommend.add_argument("--session", help="item ids, e.g. 12,45,7")
    recommend.add_argument("--sessions-file", help="one session of item ids per line")
    recommend.add_argument("--k", type=int, default=10, help="number of items")
    recommend.add_argument("--json", action="store_true", help="JSON lines output")
    recommend.set_defaults(func=_recommend)


def demo(out_dir: pathlib.Path) -> list[tuple[str, str]]:
    """Recommends for a simulated session with the shipped checkpoint and
    scores it on a small freshly simulated test set against POP and Markov
    and the Bayes ceiling (seconds)."""
    import numpy as np

    from apps.recsys.data import (
        Sessions,
        SessionSimulator,
        SimulatorConfig,
    )
    from apps.recsys.evaluate import (
        BayesScorer,
        PopularityScorer,
        evaluate_scorer,
    )
    from apps.recsys.recommend import CHECKPOINT_DIR, Recommender
    from apps.recsys.train import GRU4RecScorer
    from core.config import load_config
    from core.runs import write_json_atomic

    out_dir = pathlib.Path(out_dir)
    recommender = Recommender.load(CHECKPOINT_DIR)
    simulator = SessionSimulator(
        load_config(SimulatorConfig, CHECKPOINT_DIR / "simulator.json")
    )
    # Fresh sessions from the same simulator (another seed), catalogue items only.
    events = simulator.simulate(n_sessions=600, seed=12345)
    known = recommender.index.contains(events.item_ids)
    events = events.take(known)
    lists = []
    for session in np.unique(events.session_ids):
        raw = events.item_ids[events.session_ids == session]
        if len(raw) >= 2:
            lists.append(recommender.index.to_index(raw))
    test = Sessions.from_lists(lists)
    sample = recommender.index.to_raw(test.session(0)[:-1]).tolist()
    result = recommender.recommend(sample, k=5)
    counts = recommender.item_counts
    metrics = {
        "GRU4Rec": evaluate_scorer(GRU4RecScorer(recommender.model), test),
        "POP": evaluate_scorer(PopularityScorer(counts, len(counts)), test),
        "Bayes ceiling": evaluate_scorer(
            BayesScorer(simulator, recommender.index.item_ids), test
        ),
    }
    write_json_atomic(
        out_dir / "recsys_demo.json",
        {"session": sample, "recommendation": result.as_dict(), "metrics": metrics},
    )
    top = ", ".join(str(item) for item, _ in result.items)
    return [
        ("session", ",".join(str(i) for i in sample)),
        ("top-5 next items", top),
        (
            "Recall@20 GRU4Rec / POP / ceiling",
            " / ".join(f"{metrics[m]['recall@20']:.3f}" for m in metrics),
        ),
        (
            "MRR@20 GRU4Rec / POP / ceiling",
            " / ".join(f"{metrics[m]['mrr@20']:.3f}" for m in metrics),
        ),
        ("test targets", str(metrics["GRU4Rec"]["n_targets"])),
    ]
