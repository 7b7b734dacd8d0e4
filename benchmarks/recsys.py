"""GRU4Rec speed and memory benchmark; writes benchmarks/results/recsys.json.

Measures, each against a baseline in the same run:
  * training events/s for cross-entropy (2048 shared negatives, batch 64, 100
    units) and BPR-max: the compiled multi-step `tf.function` vs the same step
    run eagerly;
  * negative-sample store: numpy searchsorted vs a Python loop;
  * evaluation seconds per 10k test events (full catalogue ranking);
  * peak resident memory while loading a simulated 5M-event CSV.

Usage: python benchmarks/recsys.py [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from apps.recsys.data import (  # noqa: E402
    NegativeSampler,
    SessionSimulator,
    SimulatorConfig,
    sample_store_python_loop,
    save_events,
)


def training_throughput(data, config, steps, compiled, repeats=3):
    """Events/s of `steps` training steps, best and median of `repeats` runs
    (the machine is shared: the best run is the least disturbed one)."""
    from apps.recsys.train import SessionParallelTrainer, build_model

    model = build_model(config, len(data.index))
    trainer = SessionParallelTrainer(model, config, data.item_counts, compiled=compiled)
    warm = min(steps, config.steps_per_call)
    trainer.train_epoch(data.train, max_steps=warm)  # trace / warm up
    rates = []
    for _ in range(repeats):
        _, events, seconds = trainer.train_epoch(data.train, max_steps=steps)
        rates.append(events / seconds)
    return {
        "events_per_second": max(rates),
        "median_events_per_second": float(np.median(rates)),
        "runs": rates,
        "steps_per_run": steps,
        "traces": getattr(trainer, "traces", None),
    }


def sample_store(size):
    counts = np.random.default_rng(0).zipf(1.5, 40_000).astype(float)
    started = time.perf_counter()
    NegativeSampler(counts, n_sample=2048, alpha=0.5, store_size=size).sample(1)
    numpy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sample_store_python_loop(counts, size)
    loop_seconds = time.perf_counter() - started
    return {
        "ids": size,
        "catalogue": len(counts),
        "numpy_seconds": numpy_seconds,
        "python_loop_seconds": loop_seconds,
        "speedup": loop_seconds / numpy_seconds,
    }


def evaluation_time(data, config):
    from apps.recsys.evaluate import MarkovScorer, evaluate_scorer
    from apps.recsys.train import GRU4RecScorer, build_model

    model = build_model(config, len(data.index))
    gru = evaluate_scorer(GRU4RecScorer(model), data.test)
    markov = evaluate_scorer(MarkovScorer(data.train, len(data.index)), data.test)
    per = 10_000 / data.test.n_events
    return {
        "test_events": data.test.n_events,
        "items": len(data.index),
        "gru4rec_seconds_per_10k_events": gru["seconds"] * per,
        "markov_seconds_per_10k_events": markov["seconds"] * per,
    }


LOAD_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from apps.recsys.data import load_events

def peak_mb():
    # VmHWM: this process's peak resident memory (reset at exec, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

before = peak_mb()
started = time.perf_counter()
events = load_events({path!r})
seconds = time.perf_counter() - started
print(len(events), before, peak_mb(), events.nbytes(), seconds)
"""


def load_memory(n_events, folder):
    mean_length = SimulatorConfig().mean_session_length
    config = SimulatorConfig(n_sessions=int(n_events / mean_length), seed=7)
    events = SessionSimulator(config).simulate()
    path = pathlib.Path(folder) / "events_5m.csv"
    save_events(events, path)
    del events
    script = LOAD_SCRIPT.format(root=str(ROOT), path=str(path))
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    rows, before, after, nbytes, seconds = output
    return {
        "events": int(rows),
        "file_mb": path.stat().st_size / 2**20,
        "peak_rss_after_imports_mb": float(before),
        "peak_rss_while_loading_mb": float(after),
        "load_increase_mb": float(after) - float(before),
        "columns_mb": int(nbytes) / 2**20,
        "seconds": float(seconds),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/recsys.json"))
    args = parser.parse_args(argv)

    from apps.recsys.train import TrainConfig, prepare_data
    from core.runs import configure_threads, set_seed, write_json_atomic

    configure_threads(intra_op=args.threads, inter_op=1)
    set_seed(0)
    steps = 200 if args.quick else 1000
    eager_steps = 30 if args.quick else 100
    base = TrainConfig()
    data = prepare_data(base)
    results = {
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": args.threads,
        "simulator_items": len(data.index),
    }
    configs = {
        "cross_entropy_2048_batch64_100units": base,
        "bpr_max_2048_batch64_100units": TrainConfig(
            loss="bpr-max", final_activation="elu-0.5", bpreg=1.0, logq=0.0
        ),
    }
    for name, config in configs.items():
        compiled = training_throughput(data, config, steps, compiled=True)
        eager = training_throughput(data, config, eager_steps, compiled=False)
        results[name] = {
            "compiled": compiled,
            "eager_baseline": eager,
            "speedup": compiled["events_per_second"] / eager["events_per_second"],
        }
        print(name, json.dumps(results[name]), flush=True)
    results["sample_store"] = sample_store(1_000_000 if args.quick else 10_000_000)
    print("sample_store", json.dumps(results["sample_store"]), flush=True)
    results["evaluation"] = evaluation_time(data, base)
    print("evaluation", json.dumps(results["evaluation"]), flush=True)
    with tempfile.TemporaryDirectory(
        dir=ROOT / "out" if (ROOT / "out").is_dir() else None
    ) as folder:
        results["load_5m_events"] = load_memory(
            500_000 if args.quick else 5_000_000, folder
        )
    print("load", json.dumps(results["load_5m_events"]), flush=True)
    results["load_average_at_end"] = os.getloadavg()
    results["command"] = "python benchmarks/recsys.py" + (
        " --quick" if args.quick else ""
    )
    write_json_atomic(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
