"""The study's files: the results file's format, and what study.json records about the machine.

Results file: ``results.jsonl`` in the output folder, one JSON object per line
with a ``kind`` field (``eval``, ``noise``, ``run``; ``failure`` for a run whose
task failed on a Dask worker). A run's rows are appended together,
``run`` row last, only when the run has finished, so an interrupted study loses
only the run in progress, and ``resume`` skips the runs that have a ``run`` row.
``study.json`` holds the configuration, the targets (and the pilot that set them),
the tuned learning rates with every eta's scores, the clock, the data set and the
machine.
"""
import gzip
import json
import os
import platform
from pathlib import Path

import numba
import numpy as np

from .. import __version__
from .config import StudyError

RESULTS = "results.jsonl"
CONFIG = "study.json"


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _text(v):
    return isinstance(v, str)


def _sizes(v):
    return isinstance(v, list) and len(v) >= 2 and all(_int(x) and x > 0 for x in v)


def _number_or_none(v):
    return v is None or _number(v)


def _numbers(v):
    return isinstance(v, list) and len(v) > 0 and all(_number(x) for x in v)


def _text_or_none(v):
    return v is None or _text(v)


# Every field of every kind of row, with its check; OPTIONAL fields may be absent.
SCHEMA = {
    "eval": dict(epoch=_number, train_seconds=_number, updates=_int, examples=_int, val_acc=_number,
                 val_cost=_number),
    "noise": dict(epoch=_number, examples=_int, b_small=_int, b_big=_int, small_sq=_numbers, big_sq=_numbers),
    "run": dict(optimizer=_text, sizes=_sizes, batch_size=_int, eta=_number, seed=_int, status=_text,
                note=_text_or_none, train_seconds=_number, wall_seconds=_number, final_val_acc=_number,
                final_train_acc=_number_or_none, checksum=_number_or_none, workers=_int),
    "failure": dict(error=_text),
}
OPTIONAL = {"run": {"workers"}}


def check_row(row):
    """Raise ValueError naming what is wrong with a results row (its kind, a missing, unknown or mistyped field)."""
    if not isinstance(row, dict):
        raise ValueError("not a JSON object")
    kind = row.get("kind")
    if kind not in SCHEMA:
        raise ValueError(f"unknown kind {kind!r}; a row is one of {', '.join(SCHEMA)}")
    if not _text(row.get("run")):
        raise ValueError("'run' must be the run's id")
    fields = SCHEMA[kind]
    missing = sorted(set(fields) - set(row) - OPTIONAL.get(kind, set()))
    if missing:
        raise ValueError(f"this {kind} row lacks {', '.join(missing)}")
    unknown = sorted(set(row) - set(fields) - {"kind", "run"})
    if unknown:
        raise ValueError(f"this {kind} row has unknown fields {', '.join(unknown)}")
    for name, ok in fields.items():
        if name in row and not ok(row[name]):
            raise ValueError(f"this {kind} row's {name} is {row[name]!r}")


def read_results(path):
    """Rows of a results file, each checked against the schema of its kind (``check_row``).

    A torn last line (an interrupted write) is dropped; any other bad line is an error. A study
    kept for reference may hold its results gzipped (``results.jsonl.gz``) instead: it is read
    when the plain file is absent.
    """
    path = Path(path)
    packed = path.with_name(path.name + ".gz")
    if not path.exists() and packed.exists():
        try:
            text = gzip.decompress(packed.read_bytes()).decode()
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise StudyError(f"{packed} is not a readable gzip file of JSON lines ({e})") from None
        path = packed
    elif not path.exists():
        return []
    else:
        text = path.read_text()
    lines = text.split("\n")
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            check_row(row)
        except ValueError as e:
            if i == len(lines) - 1:  # no newline after it: the write was cut short
                continue
            raise StudyError(f"{path} line {i + 1} is corrupt ({e}); fix or delete it, or start over with --force")
        rows.append(row)
    return rows


def completed(rows):
    """Rows of the runs that finished (have a ``run`` row); rows of unfinished runs are dropped."""
    done = {r["run"] for r in rows if r["kind"] == "run"}
    return [r for r in rows if r["run"] in done], done


def failed_runs(rows):
    """Ids of the runs with a ``failure`` row and no ``run`` row, sorted: the ones --resume will run again."""
    return sorted({r["run"] for r in rows if r["kind"] == "failure"} - {r["run"] for r in rows if r["kind"] == "run"})


def append_rows(path, rows):
    """Append rows as JSON lines in one write, then flush to disk."""
    data = "".join(json.dumps(r) + "\n" for r in rows)
    with open(path, "a") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(), numpy=np.__version__,
                numba=numba.__version__, fastnn=__version__, system=f"{platform.system()} {platform.release()}")
