"""Ingestion benchmark: a 10,000-sample Inspect .eval log, end to end.

    .venv/bin/python bench/ingest.py [--log PATH]

Prints, each measured in a fresh process on the same file:
  * ours     - end-to-end ingest into the configured database (DATABASE_URL; a scratch SQLite
               file when unset): store the upload, read the header, parse every sample, write
               sample rows, metrics and statistics;
  * inspect  - Inspect's own `read_eval_log` (full read), import time excluded;
  * floor    - decompress every sample member and `orjson.loads` it, nothing else;
and the peak memory (max RSS) of each.
Goals: ours <= inspect / 8, ours <= 2 x floor, peak < 300 MiB.

Without --log it uses var/bench/big-10000.eval, generating it first (about 4 minutes) with the
Inspect fixture generator next to the repository (../shared/fixtures/inspect/make_logs.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_LOG = ROOT / "var" / "bench" / "big-10000.eval"
GENERATOR = ROOT.parent / "shared" / "fixtures" / "inspect" / "make_logs.py"


def ensure_log(path: Path) -> Path:
    if path.exists():
        return path
    if path != DEFAULT_LOG:
        raise SystemExit(f"{path} does not exist.")
    if not GENERATOR.exists():
        raise SystemExit(f"No log at {path} and no generator at {GENERATOR}; pass --log PATH.")
    out = path.parent
    out.mkdir(parents=True, exist_ok=True)
    print(f"generating a 10,000-sample log in {out} (about 4 minutes) ...", flush=True)
    subprocess.run(
        [sys.executable, str(GENERATOR), "big", str(out), "10000"],
        cwd=GENERATOR.parent,
        check=True,
    )
    produced = sorted(out.glob("*.eval"), key=lambda p: p.stat().st_mtime)
    if not produced:
        raise SystemExit("The generator wrote no .eval file.")
    produced[-1].rename(path)
    return path


def child_ours(log: Path) -> dict:
    if not os.environ.get("DATABASE_URL"):
        scratch = tempfile.mkdtemp(prefix="bench-ingest-")
        os.environ["SAFETYCASE_VAR_DIR"] = scratch
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safetycase.settings_test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from evidence import services
    from evidence.models import EvaluationRun, LogFile, Project

    bench_project, _ = Project.objects.get_or_create(name="bench")

    # A previous bench run on the same database: start from nothing.
    for log_file in LogFile.objects.filter(name=log.name):
        EvaluationRun.objects.filter(log_file=log_file).delete()
        log_file.delete()
    from safetycase.celery import app

    app.conf.task_always_eager = False  # time the ingest ourselves, not inside submit
    start = time.perf_counter()
    with log.open("rb") as handle:
        result = services.log_submit(upload=handle, project=bench_project)
    run = services.run_ingest(run_id=result.runs[0].pk)
    seconds = time.perf_counter() - start
    assert run.status == "ingested", run.error
    return {"seconds": seconds, "samples": run.sample_count, "database": _vendor()}


def _vendor() -> str:
    from django.db import connection

    return connection.vendor


def child_inspect(log: Path) -> dict:
    from inspect_ai.log import read_eval_log

    start = time.perf_counter()
    read = read_eval_log(str(log))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "samples": len(read.samples or [])}


def child_floor(log: Path) -> dict:
    import zipfile

    import orjson

    from evidence.parsers.base import Limits
    from evidence.parsers.inspect_eval import EvalArchive

    start = time.perf_counter()
    archive = EvalArchive(log, Limits())
    count = 0
    with zipfile.ZipFile(log) as zf, open(log, "rb") as handle:
        for info in zf.infolist():
            if info.filename.startswith("samples/"):
                orjson.loads(archive.read(handle, info))
                count += 1
    return {"seconds": time.perf_counter() - start, "samples": count}


CHILDREN = {"ours": child_ours, "inspect": child_inspect, "floor": child_floor}


def measure(kind: str, log: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--log", str(log), "--child", kind],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, default=DEFAULT_LOG)
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = CHILDREN[args.child](args.log)
        result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    log = ensure_log(args.log)
    size_mib = log.stat().st_size / 2**20
    rows = {kind: measure(kind, log) for kind in ("ours", "inspect", "floor")}
    ours, inspect, floor = rows["ours"], rows["inspect"], rows["floor"]
    print(f"log: {log} ({size_mib:.1f} MiB, {floor['samples']} sample members)")
    print(f"database: {ours['database']}")
    print("| measurement                      | seconds | max RSS MiB |")
    print("|----------------------------------|---------|-------------|")
    for label, row in [
        ("ours: ingest end to end", ours),
        ("inspect: read_eval_log (full)", inspect),
        ("floor: decompress + orjson.loads", floor),
    ]:
        print(f"| {label:<32} | {row['seconds']:7.2f} | {row['max_rss_mib']:11.0f} |")
    print(
        f"ours / inspect = {ours['seconds'] / inspect['seconds']:.3f} (goal <= 0.125); "
        f"ours / floor = {ours['seconds'] / floor['seconds']:.2f} (goal <= 2); "
        f"peak {ours['max_rss_mib']:.0f} MiB (goal < 300)"
    )


if __name__ == "__main__":
    main()
