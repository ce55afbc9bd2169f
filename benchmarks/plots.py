"""PNG figures for the benchmark results (matplotlib, from the `bench` extra)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.report import RESULTS_DIR


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # no screen on our machines
    import matplotlib.pyplot as plt

    return plt


def latency_cdf(name: str, title: str, series: Mapping[str, Sequence[float]]) -> Path:
    """One CDF line per series of latencies in milliseconds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in series.items():
        ordered = sorted(values)
        if not ordered:
            continue
        fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
        ax.step(ordered, fractions, where="post", label=f"{label} (n={len(ordered)})")
    ax.set_xlabel("milliseconds")
    ax.set_ylabel("fraction of turns")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, plt, name)


def concurrency_curve(
    name: str, title: str, callers: Sequence[int], lines: Mapping[str, Sequence[float]]
) -> Path:
    """Milliseconds against the number of concurrent callers, one line per measure."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in lines.items():
        ax.plot(callers, values, marker="o", label=label)
    ax.set_xlabel("concurrent callers")
    ax.set_ylabel("milliseconds")
    ax.set_xscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, plt, name)


def waterfall(name: str, title: str, stages: Mapping[str, float]) -> Path:
    """Median milliseconds from the end of the turn to each pipeline stage."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = list(stages)
    ax.barh(labels, [stages[s] for s in labels])
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds after the end of the user's turn (median)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, plt, name)


def _save(fig, plt, name: str) -> Path:  # type: ignore[no-untyped-def]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
