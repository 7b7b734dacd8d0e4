"""End-to-end tests of the recsys verbs and of recommend.py on tiny settings."""

import argparse
import json

import numpy as np
import pytest

from apps.recsys import cli
from apps.recsys.recommend import Recommender, parse_session, read_sessions_file

TINY_SIMULATOR = {
    "n_items": 40,
    "n_intents": 4,
    "items_per_intent": 10,
    "n_sessions": 1500,
    "n_days": 5,
    "seed": 1,
}


def run(argv):
    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recsys")
    (folder / "sim.json").write_text(json.dumps(TINY_SIMULATOR))
    sets = [
        "hidden_units=16",
        "batch_size=16",
        "n_sample=32",
        "epochs=3",
        "optimizer=adam",
        "learning_rate=0.02",
        "steps_per_call=32",
        f"simulator_config={folder / 'sim.json'}",
        "sample_store_size=100000",
    ]
    argv = ["train", "--out", str(folder / "run")]
    for item in sets:
        argv += ["--set", item]
    assert run(argv) == 0
    return folder


def test_simulate_writes_events_and_simulator_config(tmp_path):
    config = tmp_path / "sim.json"
    config.write_text(json.dumps(TINY_SIMULATOR))
    out = tmp_path / "events.csv"
    assert (
        run(
            [
                "simulate",
                "--config",
                str(config),
                "--set",
                "n_sessions=50",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_text().startswith("SessionId,ItemId,Time\n")
    assert json.loads((tmp_path / "events.simulator.json").read_text())["n_items"] == 40


def test_train_writes_run_folder_and_beats_pop(trained_run, capsys):
    folder = trained_run / "run"
    for name in (
        "model.keras",
        "catalogue.npz",
        "config.json",
        "metrics.json",
        "simulator.json",
    ):
        assert (folder / name).is_file(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["traces"] == 1
    assert run(["evaluate", "--model", str(folder), "--cutoffs", "5,20"]) == 0
    results = json.loads((folder / "evaluation/results.json").read_text())["results"]
    assert set(results) == {
        "Bayes ceiling",
        "GRU4Rec",
        "POP",
        "S-POP",
        "Item-KNN",
        "Markov",
    }
    # Learning happened: clearly above popularity, at most the ceiling (+ noise).
    assert results["GRU4Rec"]["recall@20"] > results["POP"]["recall@20"] + 0.05
    assert results["GRU4Rec"]["mrr@20"] > results["POP"]["mrr@20"]
    assert (
        results["GRU4Rec"]["recall@20"] <= results["Bayes ceiling"]["recall@20"] + 0.03
    )
    assert "| GRU4Rec |" in capsys.readouterr().out


def test_recommend_names_unknown_items_and_falls_back(trained_run, capsys):
    folder = str(trained_run / "run")
    recommender = Recommender.load(folder)
    known = recommender.index.item_ids[:2].tolist()
    result = recommender.recommend([*known, 999_999], k=5)
    assert result.unknown == [999_999] and not result.fallback
    assert len(result.items) == 5
    scores = [score for _, score in result.items]
    assert scores == sorted(scores, reverse=True)
    fallback = recommender.recommend([999_998], k=3)
    assert fallback.fallback
    top_popular = recommender.index.to_raw(np.argsort(-recommender.item_counts)[:3])
    assert [item for item, _ in fallback.items] == top_popular.tolist()

    assert (
        run(
            [
                "recommend",
                "--model",
                folder,
                "--k",
                "3",
                "--session",
                f"{known[0]},999999",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "warning: unknown item id(s) skipped: 999999" in out
    assert out.count(". item ") == 3
    sessions = trained_run / "sessions.txt"
    sessions.write_text(f"# comment\n{known[0]} {known[1]}\n424242\n")
    assert (
        run(
            ["recommend", "--model", folder, "--sessions-file", str(sessions), "--json"]
        )
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["fallback"] is None and lines[1]["fallback"] == "popularity"


def test_session_parsing_errors(tmp_path):
    assert parse_session("12, 45 7") == [12, 45, 7]
    with pytest.raises(ValueError, match="item 2 is 'x'"):
        parse_session("1,x")
    with pytest.raises(ValueError, match="empty session"):
        parse_session(" ")
    bad = tmp_path / "s.txt"
    bad.write_text("1,2\n3,abc\n")
    with pytest.raises(ValueError, match=r"s.txt: line 2: item 2 is 'abc'"):
        read_sessions_file(bad)
    with pytest.raises(FileNotFoundError):
        read_sessions_file(tmp_path / "none.txt")
    with pytest.raises(ValueError, match="exactly one"):
        run(["recommend"])


def test_train_on_bad_events_file_fails_before_writing_a_model(tmp_path):
    events = tmp_path / "e.csv"
    events.write_text("SessionId,ItemId,Time\n1,2,3\n1,2,x\n")
    with pytest.raises(ValueError, match=r"e.csv: line 3, column 'Time'"):
        run(["train", "--out", str(tmp_path / "run"), "--set", f"data={events}"])
    assert not (tmp_path / "run").exists()


def test_demo_runs_from_the_shipped_checkpoint(tmp_path):
    from apps.recsys.recommend import CHECKPOINT_DIR

    if not (CHECKPOINT_DIR / "model.keras").is_file():
        pytest.skip("no shipped checkpoint yet")
    rows = dict(cli.demo(tmp_path))
    assert (tmp_path / "recsys_demo.json").is_file()
    gru, pop, ceiling = (
        float(v) for v in rows["Recall@20 GRU4Rec / POP / ceiling"].split(" / ")
    )
    assert pop < gru <= ceiling + 0.05
