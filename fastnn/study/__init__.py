"""The batch-size trade-off study: online learning against mini-batches, measured.

A study is a grid of runs: batch sizes x seeds x network sizes, each batch size
with its own learning rate (given, or picked by ``search_eta``). Every run
trains one network and records its progress, throughput and gradient noise as
rows of a results file; the report is generated from those rows alone.

One idea per module:

- ``config``: ``StudyConfig`` (what a study runs), ``StudyError``, the grid of runs;
- ``run``: one run (``train_run``), its evaluation points, gradient noise, and the warm-up;
- ``search``: the learning-rate search (``search_eta``);
- ``results``: the results file (``results.jsonl``) and study.json: names, reading, appending;
- ``driver``: ``run_study``, which runs (or resumes) a study into a folder;
- ``cluster``: running the runs on Dask;
- ``report``: the figures, tables and answer (``write_report``).
"""
from .config import StudyConfig, StudyError, grid, run_id
from .driver import Interrupted, prepare_data, prepare_output, run_study
from .results import CONFIG, RESULTS, append_rows, completed, failed_runs, machine_info, read_results
from .run import eval_points, gradient_noise, train_run, warm_up
from .search import search_eta

__all__ = ["StudyConfig", "StudyError", "Interrupted", "run_study", "prepare_output", "prepare_data", "grid",
           "run_id", "train_run", "eval_points", "gradient_noise", "warm_up", "search_eta", "RESULTS", "CONFIG",
           "read_results", "completed", "failed_runs", "append_rows", "machine_info"]
