"""The study's files: the results file's format, and what study.json records about the machine.

Results file: ``results.jsonl`` in the output folder, one JSON object per line
with a ``kind`` field (``eval``, ``epoch``, ``noise``, ``run``; ``failure`` for a
run whose task failed on a Dask worker). A run's rows are appended together,
``run`` row last, only when the run has finished, so an interrupted study loses
only the run in progress, and ``resume`` skips the runs that have a ``run`` row.
``study.json`` holds the configuration, the chosen learning rates, the data set
and the machine.
"""
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


def read_results(path):
    """Rows of a results file. A torn last line (an interrupted write) is dropped; any other bad line is an error."""
    path = Path(path)
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.split("\n")
    rows = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "kind" not in row or "run" not in row:
                raise ValueError("not a result row")
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
