"""The batch-size trade-off study: online learning against mini-batches, measured.

A study is a grid of runs: optimizers x network sizes x batch sizes x seeds, each batch size
with its own learning rate, tuned on the study's own metric (examples to a target fixed in
advance). Every run trains one network and records its progress as rows of a results file;
a separate clock times one update at each batch size; the report is generated from those
rows and study.json alone.

One idea per module:

- ``config``: ``StudyConfig`` (what a study runs), ``StudyError``, the grid of runs;
- ``tuning``: the pilot that fixes the targets, and learning-rate tuning by successive halving;
- ``plan``: what is fixed before the grid runs (targets, etas), recorded in study.json;
- ``run``: one run (``train_run``), its evaluation points, the noise-scale measurements, the warm-up;
- ``clock``: the cost of one update at each batch size, timed on its own;
- ``stats``: bootstrap intervals, ratio verdicts, crossings, the B_crit fit, B_simple;
- ``analysis``: from rows to per-batch-size numbers, B_crit and B_simple;
- ``results``: the results file (``results.jsonl``) and study.json: names, reading, appending;
- ``driver``: ``run_study``, which runs (or resumes) a study into a folder;
- ``cluster``: running the tasks on Dask;
- ``report``: the answer, figures and tables (``write_report``).
"""
from .config import StudyConfig, StudyError, grid, run_id
from .driver import Interrupted, prepare_data, prepare_output, run_study
from .results import CONFIG, RESULTS, append_rows, completed, failed_runs, machine_info, read_results
from .run import run_points, train_run, warm_up

__all__ = ["StudyConfig", "StudyError", "Interrupted", "run_study", "prepare_output", "prepare_data", "grid",
           "run_id", "train_run", "run_points", "warm_up", "RESULTS", "CONFIG", "read_results", "completed",
           "failed_runs", "append_rows", "machine_info"]
