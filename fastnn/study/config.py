"""What a study runs: its configuration, the grid of runs it spells out, and its error.

A study is a grid of runs: batch sizes x seeds x network sizes, each batch size
with its own learning rate (given, or picked by ``search_eta``). ``StudyConfig``
says what the grid and every run's protocol are; it is recorded in study.json,
and a resumed study must have the same one.
"""
import math
from dataclasses import asdict, dataclass, field

from ..checks import check_int
from ..registry import ACTIVATIONS, COSTS, DTYPES, lookup


class StudyError(ValueError):
    """Bad study arguments, an unusable output folder, or a corrupt results file."""


@dataclass
class StudyConfig:
    """What a study runs. Every field is recorded in study.json.

    etas maps batch size to learning rate; batch sizes without one get theirs from
    ``search_eta`` (each eta of eta_grid trained for search_epochs on 80% of the
    training set, scored by accuracy on the other 20%, ties to the smaller eta).
    """

    batch_sizes: tuple = (1, 2, 5, 10, 20, 50, 100)
    seeds: tuple = (0, 1, 2)
    sizes: tuple = ((784, 30, 10),)
    etas: dict = field(default_factory=dict)
    eta_grid: tuple = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    search_epochs: int = 1
    cost: str = "cross_entropy"
    activation: str = "sigmoid"
    dtype: str = "float32"
    lmbda: float = 0.0
    epochs: int = 10
    evals_per_epoch: int = 4
    noise_checkpoints: int = 3
    noise_batches: int = 32
    noise_examples: int = 5000
    max_train: int = None
    data: str = "auto"

    def check(self, n_train=None):
        """Raise StudyError for an empty or invalid grid."""
        try:
            if not self.batch_sizes:
                raise ValueError("the grid has no batch sizes")
            if not self.seeds:
                raise ValueError("the grid has no seeds")
            if not self.sizes:
                raise ValueError("the grid has no network sizes")
            for b in self.batch_sizes:
                check_int(b, "batch size", 1)
            if len(set(self.batch_sizes)) != len(self.batch_sizes):
                raise ValueError(f"batch sizes repeat: {list(self.batch_sizes)}")
            for b, eta in self.etas.items():
                if b not in self.batch_sizes:
                    raise ValueError(f"a learning rate is given for batch size {b}, which is not in the grid")
                if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
                    raise ValueError(f"the learning rate for batch size {b} must be positive, got {eta!r}")
            if any(not (isinstance(e, (int, float)) and e > 0) for e in self.eta_grid) or (
                    len(self.etas) < len(self.batch_sizes) and not self.eta_grid):
                raise ValueError("the eta grid must hold positive learning rates")
            check_int(self.epochs, "epochs", 1)
            check_int(self.evals_per_epoch, "evals per epoch", 1)
            check_int(self.noise_batches, "noise batches", 1)
            lookup(COSTS, self.cost, "cost")
            lookup(ACTIVATIONS, self.activation, "activation")
            lookup(DTYPES, self.dtype, "dtype")
            if n_train is not None and max(self.batch_sizes) > n_train:
                raise ValueError(f"batch size {max(self.batch_sizes)} is larger than the {n_train} training examples")
        except ValueError as e:
            raise StudyError(str(e)) from None

    def to_json(self):
        d = asdict(self)
        d["etas"] = {str(k): v for k, v in self.etas.items()}
        d["sizes"] = [list(s) for s in self.sizes]
        for key in ("batch_sizes", "seeds", "eta_grid"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_json(cls, d):
        d = dict(d)
        d["etas"] = {int(k): v for k, v in d["etas"].items()}
        d["sizes"] = tuple(tuple(s) for s in d["sizes"])
        for key in ("batch_sizes", "seeds", "eta_grid"):
            d[key] = tuple(d[key])
        return cls(**d)


def run_id(sizes, batch_size, seed):
    return f"{'-'.join(map(str, sizes))}_b{batch_size}_s{seed}"


def grid(config, etas):
    """The runs of a study, as dicts: sizes, batch_size, eta, seed, id."""
    return [dict(id=run_id(s, b, seed), sizes=list(s), batch_size=b, eta=etas[(tuple(s), b)], seed=seed)
            for s in config.sizes for b in config.batch_sizes for seed in config.seeds]
