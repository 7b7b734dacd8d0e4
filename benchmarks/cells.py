"""Training speed of the `core` cells against the matching Keras built-ins.

For each cell type, the same small sequence model (one recurrent layer + a
dense read-out) is built twice, with `keras.layers.RNN(core cell)` and with
the built-in layer (`SimpleRNN`, `LSTM`, `GRU`), and trained on the same
batches. Timings alternate between the two in several rounds and keep each
one's best round, so that load from other processes hits both alike.

    python benchmarks/cells.py [--steps 20] [--rounds 10]

Writes benchmarks/results/cells.json; the target is ratio >= 0.9
(core steps/s divided by built-in steps/s) on the TensorFlow backend, CPU.
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from core.cells import CELLS  # noqa: E402
from core.recurrent import BUILTIN_LAYERS  # noqa: E402
from core.runs import set_seed, write_json_atomic  # noqa: E402

TARGET_RATIO = 0.9


def build(layer, features):
    inputs = keras.Input((None, features))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def steps_per_second(model, x, y, steps):
    model.train_on_batch(x, y)  # trace and warm up
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--time", type=int, default=50)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument(
        "--out", default=str(pathlib.Path(__file__).parent / "results" / "cells.json")
    )
    args = parser.parse_args(argv)
    set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.time, args.features)).astype("float32")
    y = rng.standard_normal((args.batch, 1)).astype("float32")
    results = {}
    for name, cell_class in CELLS.items():
        models = {
            "core": build(keras.layers.RNN(cell_class(args.units)), args.features),
            "builtin": build(BUILTIN_LAYERS[name](args.units), args.features),
        }
        best = {key: 0.0 for key in models}
        for _ in range(args.rounds):
            for key, model in models.items():
                best[key] = max(best[key], steps_per_second(model, x, y, args.steps))
        ratio = best["core"] / best["builtin"]
        results[name] = {
            "core_steps_per_s": round(best["core"], 2),
            "builtin_steps_per_s": round(best["builtin"], 2),
            "ratio": round(ratio, 3),
            "meets_target": ratio >= TARGET_RATIO,
        }
        print(
            f"{name:6s} core {best['core']:7.1f} steps/s  built-in "
            f"{best['builtin']:7.1f} steps/s  ratio {ratio:.2f}"
        )
    report = {
        "benchmark": "cells",
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "shape": {
            "batch": args.batch,
            "time": args.time,
            "features": args.features,
            "units": args.units,
        },
        "steps": args.steps,
        "rounds": args.rounds,
        "target_ratio": TARGET_RATIO,
        "results": results,
    }
    write_json_atomic(args.out, report)
    print(json.dumps({k: v["ratio"] for k, v in results.items()}), "->", args.out)
    return 0 if all(r["meets_target"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
