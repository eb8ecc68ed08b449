"""The soak's figure: five panels over the run's time (API latency with the need rate, outbox
backlog per service, scheduled jobs due per service, consumer lag per service's groups, resident
memory per process)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

Series = Mapping[str, Sequence[tuple[float, float]]]


def _lines(axis: Axes, series: Series, unit: str) -> None:
    for name, points in sorted(series.items()):
        if points:
            axis.plot([x / 60 for x, _ in points], [y for _, y in points], label=name, lw=1.2)
    axis.set_ylabel(unit)
    axis.grid(alpha=0.3)
    if series:
        axis.legend(fontsize=7, ncol=4, loc="upper left")


def draw(
    path: Path,
    *,
    title: str,
    latency: Series,  # "p50", "p99" -> (s, ms)
    rate: Sequence[tuple[float, float]],  # (s, needs per second)
    backlog: Series,
    jobs: Series,
    lag: Series,
    rss: Series,
) -> None:
    figure, axes = plt.subplots(5, 1, figsize=(11, 16), sharex=True)
    top = axes[0]
    _lines(top, latency, "API latency (ms, log)")
    top.set_yscale("log")
    top.set_title("API latency over 10 s windows (every request), and needs published")
    twin = top.twinx()
    twin.plot([x / 60 for x, _ in rate], [y for _, y in rate], color="grey", lw=0.8, ls="--")
    twin.set_ylabel("needs / s (dashed)")
    axes[1].set_title("Outbox backlog: unpublished rows per service")
    _lines(axes[1], backlog, "rows")
    axes[2].set_title("Scheduled jobs due, waiting for a worker (mails, deliveries), per service")
    _lines(axes[2], jobs, "jobs")
    axes[3].set_title("Consumer lag: end offset minus committed offset, summed per service")
    _lines(axes[3], lag, "records")
    axes[4].set_title("Resident memory per process")
    _lines(axes[4], rss, "MiB")
    axes[4].set_xlabel("minutes into the steady run")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
