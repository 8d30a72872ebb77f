"""What a study runs: its configuration, the grid of runs it spells out, and its error.

A study is a grid of runs: optimizers x network sizes x batch sizes x seeds, each batch size
with its own learning rate (given, or tuned by ``fastnn.study.tuning``), all trained for the
same number of examples. ``StudyConfig`` says what the grid and every run's protocol are; it
is recorded in study.json (with the defaults that depend on the data filled in by
``resolve``), and a resumed study must have the same one.
"""
import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..checks import check_int
from ..registry import ACTIVATIONS, COSTS, DTYPES, OPTIMIZERS, lookup


class StudyError(ValueError):
    """Bad study arguments, an unusable output folder, or a corrupt results file."""


# 13 learning rates, 3 per decade from 0.01 to 100: the book's etas (0.1-3) sit in the middle.
ETA_GRID = tuple(float(f"{e:.3g}") for e in np.geomspace(0.01, 100.0, 13))
LARGE = 20_000  # training sets of at least this many examples get the large-set defaults


@dataclass
class StudyConfig:
    """What a study runs. Every field is recorded in study.json.

    Fields left None get a default that depends on the data (``resolve``): ``seeds`` 10 on a
    training set of 20,000 examples or more, else 8 (the fewest with which the answer's five comparisons can
    hold at their family-wise level: ``stats.runs_needed``); ``epochs`` 10 on a large set, else
    enough epochs for 200,000 examples; ``min_updates`` the updates a batch of 100 makes in
    ``epochs`` epochs. A run trains for ``epochs`` epochs, or more where that is fewer than
    ``min_updates`` updates (``epochs_for``): a fixed number of epochs gives a batch of 1000 a
    tenth of the updates of a batch of 100, too few to reach a hard target at all, and a batch
    size that misses the target drops out of the critical batch size's fit, which then only
    extrapolates past the batches it saw (Shallue et al. 2019 give each batch size a budget of
    steps for this reason).

    targets are validation accuracies fixed before the grid runs; without them a pilot
    (``fastnn.study.pilot``) sets them at ``target_fractions`` of the way from chance to the
    best held-out accuracy it reaches. etas maps batch size to learning rate; the other batch
    sizes get theirs from ``tuning.tune_eta`` over ``eta_grid`` with the ``tune_seeds`` (never
    the study's seeds) on a ``held_out`` share of the training set, scored by the median
    examples to the middle target. B_simple is measured in the runs of ``noise_batch_size``
    at ``noise_epochs`` and at the end, from ``noise_batches`` mini-batches of ``noise_small``
    and of ``noise_big`` examples. The clock times ``clock_repeats`` rounds of at least
    ``clock_seconds`` per batch size.
    """

    batch_sizes: tuple = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
    seeds: tuple = None
    sizes: tuple = ((784, 30, 10),)
    optimizers: tuple = ("sgd",)
    momentum: float = 0.9
    etas: dict = field(default_factory=dict)
    eta_grid: tuple = ETA_GRID
    tune_seeds: tuple = (1000, 1001, 1002, 1003)
    held_out: float = 0.1
    targets: tuple = None
    target_fractions: tuple = (0.9, 0.95, 0.98)
    pilot_batch_size: int = 10
    cost: str = "cross_entropy"
    activation: str = "sigmoid"
    dtype: str = "float32"
    lmbda: float = 0.0
    epochs: int = None
    min_updates: int = None
    evals_first_epoch: int = 24
    evals_per_decade: int = 8
    noise_batch_size: int = 20
    noise_epochs: tuple = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
    noise_small: int = 10
    noise_big: int = 1000
    noise_batches: int = 64
    clock_seconds: float = 1.0
    clock_repeats: int = 5
    max_train: int = None
    data: str = "auto"

    def resolve(self, n_train):
        """This configuration with the data-dependent defaults (seeds, epochs, min_updates) filled in."""
        large = n_train >= LARGE
        epochs = self.epochs if self.epochs is not None else (10 if large else max(1, math.ceil(200_000 / n_train)))
        return replace(self, seeds=self.seeds if self.seeds is not None else tuple(range(10 if large else 8)),
                       epochs=epochs, min_updates=self.min_updates if self.min_updates is not None else
                       max(1, epochs * n_train // 100))

    def epochs_for(self, batch_size, n_train):
        """Epochs a run (or a tuning run) of batch_size trains for on n_train examples: ``epochs``, or enough for
        ``min_updates`` updates. A study recorded before min_updates existed has it None: ``epochs``."""
        if self.min_updates is None:
            return self.epochs
        return max(self.epochs, math.ceil(self.min_updates * batch_size / n_train))

    @property
    def reference_batch_size(self):
        """The batch size online learning is compared with: 20, as in the book's exercise, if in the grid."""
        others = [b for b in self.batch_sizes if b != 1]
        return 20 if 20 in others else (min(others, key=lambda b: abs(math.log(b / 20))) if others else None)

    def check(self, n_train=None):
        """Raise StudyError for an empty or invalid grid (and, given n_train, one the data cannot hold)."""
        try:
            for name in ("batch_sizes", "sizes", "optimizers"):
                if not getattr(self, name):
                    raise ValueError(f"the grid has no {name.replace('_', ' ')}")
            if self.seeds is not None and not self.seeds:
                raise ValueError("the grid has no seeds")
            for b in self.batch_sizes:
                check_int(b, "batch size", 1)
            for name in ("batch_sizes", "seeds", "optimizers"):
                values = list(getattr(self, name) or ())
                if len(set(values)) != len(values):
                    raise ValueError(f"{name.replace('_', ' ')} repeat: {values}")
            if set(self.seeds or ()) & set(self.tune_seeds):
                raise ValueError(f"the study's seeds and the tuning seeds overlap: "
                                 f"{sorted(set(self.seeds) & set(self.tune_seeds))}")
            for opt in self.optimizers:
                lookup(OPTIMIZERS, opt, "optimizer")
            for b, eta in self.etas.items():
                if b not in self.batch_sizes:
                    raise ValueError(f"a learning rate is given for batch size {b}, which is not in the grid")
                if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
                    raise ValueError(f"the learning rate for batch size {b} must be positive, got {eta!r}")
            if any(not (isinstance(e, (int, float)) and e > 0) for e in self.eta_grid) or (
                    len(self.etas) < len(self.batch_sizes) and not self.eta_grid):
                raise ValueError("the eta grid must hold positive learning rates")
            if not self.tune_seeds:
                raise ValueError("tuning needs at least one seed")
            if not 0 < self.held_out < 0.5:
                raise ValueError(f"the held-out share must be in (0, 0.5), got {self.held_out}")
            if self.targets is not None:
                if not self.targets or any(not 0 < t < 1 for t in self.targets):
                    raise ValueError(f"targets are validation accuracies in (0, 1), got {list(self.targets)}")
            elif not self.target_fractions or any(not 0 < f <= 1 for f in self.target_fractions):
                raise ValueError(f"target fractions must be in (0, 1], got {list(self.target_fractions)}")
            if self.epochs is not None:
                check_int(self.epochs, "epochs", 1)
            if self.min_updates is not None:
                check_int(self.min_updates, "min_updates", 1)
            check_int(self.evals_first_epoch, "evaluations in the first epoch", 1)
            check_int(self.evals_per_decade, "evaluations per decade", 1)
            check_int(self.noise_batches, "noise batches", 2)
            check_int(self.noise_small, "noise small batch", 1)
            check_int(self.noise_big, "noise big batch", 2)
            if self.noise_small >= self.noise_big:
                raise ValueError(f"the noise scale needs noise_small < noise_big, got {self.noise_small} "
                                 f"and {self.noise_big}")
            check_int(self.clock_repeats, "clock repeats", 1)
            if not self.clock_seconds > 0:
                raise ValueError(f"clock seconds must be positive, got {self.clock_seconds}")
            lookup(COSTS, self.cost, "cost")
            lookup(ACTIVATIONS, self.activation, "activation")
            lookup(DTYPES, self.dtype, "dtype")
            if n_train is not None:
                fit = n_train - math.ceil(n_train * self.held_out)
                if max(self.batch_sizes) > fit:
                    raise ValueError(f"batch size {max(self.batch_sizes)} is larger than the {fit} training "
                                     f"examples that tuning trains on")
        except ValueError as e:
            raise StudyError(str(e)) from None

    def to_json(self):
        d = asdict(self)
        d["etas"] = {str(k): v for k, v in self.etas.items()}
        d["sizes"] = [list(s) for s in self.sizes]
        for key in TUPLES:
            d[key] = None if d[key] is None else list(d[key])
        return d

    @classmethod
    def from_json(cls, d):
        d = dict(d)
        d["etas"] = {int(k): v for k, v in d["etas"].items()}
        d["sizes"] = tuple(tuple(s) for s in d["sizes"])
        for key in TUPLES:
            d[key] = None if d[key] is None else tuple(d[key])
        return cls(**d)


TUPLES = ("batch_sizes", "seeds", "optimizers", "eta_grid", "tune_seeds", "targets", "target_fractions",
          "noise_epochs")


def run_id(sizes, batch_size, seed, optimizer="sgd"):
    arm = "" if optimizer == "sgd" else f"{optimizer}_"
    return f"{'-'.join(map(str, sizes))}_{arm}b{batch_size}_s{seed}"


def arms(config):
    """The (optimizer, sizes) pairs of a study: each gets its own tuning, grid and report section."""
    return [(opt, tuple(s)) for opt in config.optimizers for s in config.sizes]


def grid(config, etas):
    """The runs of a (resolved) study, as dicts: optimizer, sizes, batch_size, eta, seed, id.

    etas maps (optimizer, sizes tuple, batch size) to the learning rate.
    """
    return [dict(id=run_id(s, b, seed, opt), optimizer=opt, sizes=list(s), batch_size=b, eta=etas[(opt, s, b)],
                 seed=seed)
            for opt, s in arms(config) for b in config.batch_sizes for seed in config.seeds]
