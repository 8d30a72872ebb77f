"""Saving matplotlib figures the same way in every report (Agg backend is chosen by the callers)."""
from pathlib import Path

from .serialization import atomic_write


def save_figure(fig, folder, name, dpi=110, tight=True):
    """Lay out fig (unless tight is False), write it to folder/name atomically (a temporary file, then a
    rename), close it; returns name."""
    import matplotlib.pyplot as plt
    if tight:
        fig.tight_layout()
    path = Path(folder) / name
    atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format=path.suffix[1:]))
    plt.close(fig)
    return name
