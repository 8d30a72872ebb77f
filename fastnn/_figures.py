"""Saving matplotlib figures the same way in every report (Agg backend is chosen by the callers)."""
from pathlib import Path


def save_figure(fig, folder, name, dpi=110):
    """Lay out fig, write it to folder/name, close it; returns name."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(Path(folder) / name, dpi=dpi)
    plt.close(fig)
    return name
