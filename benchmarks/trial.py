"""How long one "Try it" takes: the sample flows' paths, each replayed from the start in a throwaway app.

Each try builds its app on an in-memory database, stores the draft there, places the simulated call through
the voice webhooks and throws everything away (ivr.sim.trial). Prints, per path, the median and the slowest
of N tries after one warm-up, in milliseconds; the goal is well under a second.

    .venv/bin/python benchmarks/trial.py [--tries 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from ivr.sim.trial import read_trial, run_trial

FLOWS = Path(__file__).resolve().parent.parent / "flows"
PATHS = {
    "greeting to the language menu": [],
    "menu, then billing (queue)": [{"digits": "1"}, {"digits": "1"}],
    "order number, to the BPO (queue)": [{"digits": "2"}, {"digits": "3"}, {"digits": "123456#"}],
    "silence to the operator (5 retries)": [{"silence": True}] * 5,
}


def main() -> None:
    """Time each path and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    texts = {path.name: path.read_text() for path in FLOWS.glob("*.json")}
    now = datetime(2026, 12, 7, 16, 30, tzinfo=UTC)  # a Monday, 10:30 in Chicago: the desks are open
    for name, inputs in PATHS.items():
        trial = read_trial({"document": "main.json", "inputs": inputs})
        run_trial(texts, trial, now)  # warm-up: imports, first app
        times = []
        for _ in range(args.tries):
            start = time.perf_counter()
            run_trial(texts, trial, now)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name:<40} median {statistics.median(times):6.1f} ms   slowest {max(times):6.1f} ms")


if __name__ == "__main__":
    main()
