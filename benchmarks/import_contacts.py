"""Import time and memory of a 100,000-contact list (`ivr campaign import`) on SQLite and PostgreSQL.

One run does everything and stops by itself:

1. writes a CSV of ROWS rows (default 100,000) to a temporary folder: US numbers written in several
   ways (+1 512 555 0101, (212) 555-0199, 415.555.0100), a name, a time zone on every tenth row and two
   variable columns; 1% of the rows repeat an earlier number (merged) and 0.5% are invalid (reported);
   and a 1,000-row file made the same way;
2. for each database (a SQLite file in the temporary folder; PostgreSQL at --pg-url, which is EMPTIED:
   every table is dropped, then migrated): publishes the sample flows, creates a campaign, and runs
   ``ivr campaign import CAMPAIGN FILE`` (``python -m ivr.cli``) as a child process, three times:
   the 1,000-row file into a fresh campaign, the big file into another fresh campaign, and the big file
   again into that campaign (every row a duplicate: the merge path). Each run is timed (wall clock, from
   start to exit, so it includes the ~1 s the command takes to start, and the printing of its report)
   and the child reports its peak resident memory (VmHWM) as it exits: streaming means the big file
   needs about as much as the small one (only the report grows: one entry per row merged or invalid);
3. checks every report (imported, merged, invalid as generated) and the number of contacts stored, and
   prints rows per second, seconds and peak memory per run, and the machine. ``--json`` prints the
   same as JSON. Exit status 0 when every check passed.

Run it from the repository root::

    .venv/bin/python benchmarks/import_contacts.py [--rows 100000]
        [--pg-url postgresql://postgres@127.0.0.1:5432/ivr_bench | --no-pg] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr import create_app  # noqa: E402
from ivr.campaigns.service import create_campaign  # noqa: E402
from ivr.db import make_engine, session, utcnow  # noqa: E402
from ivr.migrations.runner import recreate  # noqa: E402
from ivr.models import Contact  # noqa: E402

AREAS = ("512", "212", "415", "305", "617", "702", "808", "907", "312", "208")
ZONES = ("America/Chicago", "America/New_York", "America/Los_Angeles")


@dataclass(frozen=True)
class Generated:
    """A generated list: where it is and what its import must report."""

    path: Path
    rows: int
    unique: int
    duplicates: int
    invalid: int


def generate(path: Path, rows: int, seed: int = 7) -> Generated:
    """Write a contact list of `rows` rows; 1% repeat an earlier number, 0.5% are invalid."""
    rng = random.Random(seed)
    written: list[str] = []
    unique = duplicates = invalid = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("phone,name,timezone,appointment,account\n")
        for n in range(rows):
            if n % 200 == 199:
                phone, invalid = f"555-{n % 1000:03d}", invalid + 1
            elif n % 100 == 50 and written:
                phone, duplicates = rng.choice(written), duplicates + 1
            else:
                area, exchange, line = AREAS[n % len(AREAS)], 200 + (n // 10000) % 700, n % 10000
                phone = (
                    f"+1 {area} {exchange} {line:04d}",
                    f"({area}) {exchange}-{line:04d}",
                    f"{area}.{exchange}.{line:04d}",
                )[n % 3]
                unique += 1
                if len(written) < 5000:
                    written.append(phone)
            zone = ZONES[n % len(ZONES)] if n % 10 == 0 else ""
            out.write(f"{phone},Person {n},{zone},2026-12-{n % 28 + 1:02d} 10:00,A{n:07d}\n")
    return Generated(path, rows, unique, duplicates, invalid)


def environment(url: str) -> dict[str, str]:
    return os.environ | {"DATABASE_URL": url, "FLOWS_DIR": str(ROOT / "flows"), "SECRET_KEY": "bench"}


def new_campaign(url: str, name: str) -> None:
    """A draft campaign on the sample site (the flows are published first)."""
    settings = {"DATABASE_URL": url, "FLOWS_DIR": str(ROOT / "flows"), "SECRET_KEY": "bench"}
    app = create_app(settings | {"FLOWS_WATCH": True}, require_token=False)  # publishes the sample flows
    with app.app_context():
        site = app.extensions["ivr.flows"].current().site
        create_campaign(
            session(), {"name": name, "flow": "main", "caller_id": "+15125550100"}, site, utcnow()
        )
        session().commit()
    app.extensions["ivr.db"].engine.dispose()


@dataclass(frozen=True)
class Run:
    """One import: what it did, how long it took and the most memory it used."""

    database: str
    what: str
    rows: int
    seconds: float
    rows_per_second: float
    peak_rss_mb: float
    imported: int
    merged: int
    invalid: int


# The child reports its own peak memory as it exits: VmHWM is the high-water mark of its address space
# since exec (ru_maxrss would also count the parent's memory at fork).
CHILD = (
    "import atexit, sys\n"
    "def peak():\n"
    "    sys.stderr.write(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
    "atexit.register(peak)\n"
    "from ivr.cli.main import main\n"
    "main()\n"
)
SUMMARY = re.compile(r"^(\d+) rows: (\d+) imported, (\d+) merged as duplicates, (\d+) invalid", re.M)


def import_file(url: str, database: str, what: str, campaign: str, data: Generated) -> Run:
    """Run `ivr campaign import` (text report) in a child process; time it and read its peak memory."""
    command = [sys.executable, "-c", CHILD, "campaign", "import", campaign, str(data.path)]
    started = time.perf_counter()
    done = subprocess.run(command, env=environment(url), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{database} {what}: the import failed:\n{done.stderr[-2000:]}")
    summary = SUMMARY.search(done.stdout)
    peak = re.search(r"^VmHWM:\s+(\d+) kB", done.stderr, re.M)
    if summary is None or peak is None:
        raise SystemExit(f"{database} {what}: no summary or peak memory in the output")
    _rows, imported, merged, invalid = (int(x) for x in summary.groups())
    return Run(
        database,
        what,
        data.rows,
        round(seconds, 2),
        round(data.rows / seconds),
        round(int(peak.group(1)) / 1024, 1),
        imported,
        merged,
        invalid,
    )


def stored(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.scalar(select(func.count()).select_from(Contact)) or 0)
    engine.dispose()
    return count


def bench(url: str, database: str, small: Generated, big: Generated) -> tuple[list[Run], list[str]]:
    """The three imports on one database, and what did not come out as generated."""
    recreate(url)
    new_campaign(url, "small")
    new_campaign(url, "big")
    runs = [
        import_file(url, database, "1,000 rows, new campaign", "small", small),
        import_file(url, database, f"{big.rows:,} rows, new campaign", "big", big),
        import_file(url, database, f"{big.rows:,} rows again (all merged)", "big", big),
    ]
    problems = []
    expected = [
        (small.unique, small.duplicates, small.invalid),
        (big.unique, big.duplicates, big.invalid),
        (0, big.unique + big.duplicates, big.invalid),
    ]
    for run, want in zip(runs, expected, strict=True):
        if (run.imported, run.merged, run.invalid) != want:
            problems.append(
                f"{database} {run.what}: imported/merged/invalid {run.imported}/{run.merged}/"
                f"{run.invalid}, expected {want[0]}/{want[1]}/{want[2]}"
            )
    if stored(url) != small.unique + big.unique:
        problems.append(f"{database}: {stored(url)} contacts stored, expected {small.unique + big.unique}")
    return runs, problems


def machine() -> dict[str, object]:
    """CPU model, cores, memory, Python and database versions."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_mb": memory,
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/ivr_bench",
        help="a PostgreSQL database to EMPTY and use",
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ivr-import-") as folder:
        small = generate(Path(folder) / "small.csv", 1000)
        big = generate(Path(folder) / "big.csv", args.rows)
        targets = [("SQLite", f"sqlite:///{folder}/bench.sqlite3")]
        targets += [] if args.no_pg else [("PostgreSQL", args.pg_url)]
        runs: list[Run] = []
        problems: list[str] = []
        for name, url in targets:
            found, wrong = bench(url, name, small, big)
            runs += found
            problems += wrong
        size = big.path.stat().st_size
    facts = machine()
    print(
        f"{args.rows:,} rows ({size / 1e6:.1f} MB): {big.unique:,} numbers, {big.duplicates:,} repeated, "
        f"{big.invalid:,} invalid"
    )
    print(f"{'database':<11} {'import':<32} {'seconds':>8} {'rows/s':>8} {'peak RSS MB':>12}")
    for run in runs:
        print(
            f"{run.database:<11} {run.what:<32} {run.seconds:>8.2f} {run.rows_per_second:>8} "
            f"{run.peak_rss_mb:>12.1f}"
        )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"machine: {facts['cpu']}, {facts['cores']} cores, {facts['memory_mb']} MB, "
        f"Python {facts['python']}, load average {load}"
    )
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if args.json:
        print(
            json.dumps({"runs": [asdict(r) for r in runs], "machine": facts, "problems": problems}, indent=2)
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
