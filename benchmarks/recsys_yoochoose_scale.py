"""Memory and time to load a YooChoose-sized `clicks.dat` (33M rows).

The real RecSys Challenge 2015 file cannot be downloaded here, so this writes a
synthetic file in the same format (SessionID,ISO timestamp,ItemID,Category;
33,003,944 rows by default, the size of `yoochoose-clicks.dat`), then loads it
in a fresh process twice:
  * with `apps.recsys.data.load_yoochoose` (chunked, numpy columns);
  * with the naive baseline, one `pandas.read_csv` of the whole file with
    default types (timestamps as Python strings).
Peak resident memory (VmHWM) and seconds are written as JSON.

    python benchmarks/recsys_yoochoose_scale.py [--rows 33003944]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.runs import write_json_atomic  # noqa: E402

PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""
OURS = (
    PEAK
    + """
import sys, time
sys.path.insert(0, {root!r})
from apps.recsys.data import load_yoochoose
before = peak_mb()
start = time.perf_counter()
events = load_yoochoose({path!r})
print(len(events), before, peak_mb(), time.perf_counter() - start, events.nbytes())
"""
)
NAIVE = (
    PEAK
    + """
import time
import pandas as pd
before = peak_mb()
start = time.perf_counter()
frame = pd.read_csv({path!r}, header=None,
                    names=["SessionId", "Time", "ItemId", "Category"])
print(len(frame), before, peak_mb(), time.perf_counter() - start,
      int(frame.memory_usage(deep=True).sum()))
"""
)


def write_clicks(path, rows, seed=0, chunk=2_000_000):
    """Sessions of 2 + geometric length, items Zipf-like over 50k ids, ms times."""
    rng = np.random.default_rng(seed)
    lengths = 2 + rng.geometric(0.3, size=rows)  # more than enough sessions
    ends = np.cumsum(lengths)
    n_sessions = int(np.searchsorted(ends, rows)) + 1
    session_of_row = np.repeat(np.arange(n_sessions), lengths[:n_sessions])[:rows]
    start_ms = np.datetime64("2014-04-01T00:00:00", "ms").astype(np.int64)
    session_start = np.sort(rng.integers(0, 183 * 86_400_000, size=n_sessions))
    with open(path, "w") as handle:
        for first in range(0, rows, chunk):
            sessions = session_of_row[first : first + chunk]
            offset = rng.integers(0, 600_000, size=len(sessions))
            times = (start_ms + session_start[sessions] + offset).astype(
                "datetime64[ms]"
            )
            stamps = np.char.add(np.datetime_as_string(times, unit="ms"), "Z")
            items = 214_500_000 + np.minimum(rng.zipf(1.3, size=len(sessions)), 50_000)
            pd.DataFrame({"s": sessions + 1, "t": stamps, "i": items, "c": "0"}).to_csv(
                handle, header=False, index=False
            )


def measure(script, path):
    output = subprocess.run(
        [sys.executable, "-c", script.format(root=str(ROOT), path=str(path))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    rows, before, after, seconds, nbytes = output
    return {
        "rows": int(rows),
        "peak_rss_mb": round(float(after), 1),
        "increase_over_imports_mb": round(float(after) - float(before), 1),
        "data_mb": round(int(nbytes) / 2**20, 1),
        "seconds": round(float(seconds), 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=33_003_944)
    parser.add_argument(
        "--out",
        default=str(ROOT / "benchmarks" / "results" / "recsys_yoochoose_scale.json"),
    )
    args = parser.parse_args(argv)
    (ROOT / "out").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "out") as folder:
        path = pathlib.Path(folder) / "clicks.dat"
        start = time.perf_counter()
        write_clicks(path, args.rows)
        written = time.perf_counter() - start
        print(
            f"wrote {args.rows} rows ({path.stat().st_size / 2**20:.0f} MB) "
            f"in {written:.0f}s",
            flush=True,
        )
        report = {
            "rows": args.rows,
            "file_mb": round(path.stat().st_size / 2**20, 1),
            "load_yoochoose": measure(OURS, path),
        }
        print("load_yoochoose", json.dumps(report["load_yoochoose"]), flush=True)
        report["naive_pandas_read_csv"] = measure(NAIVE, path)
        print("naive", json.dumps(report["naive_pandas_read_csv"]), flush=True)
    report["command"] = "python benchmarks/recsys_yoochoose_scale.py"
    report["cpu_count"] = os.cpu_count()
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
