"""The figures of `harness plot`, drawn with matplotlib: dot plots, one row per series (a run identity or a
published model), so 1 to 60 models stay readable; one panel per dataset (or per category for the means).

A dot plot, not bars: a bar must start at 0, which hides reproduction-sized differences; dots let the axis fit
the data. Error bars are the bootstrap 95 % intervals of a run's main metric (harness.report.intervals); published
figures have none. Every figure is written as PNG, SVG and PDF.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from harness.atomic import write_with

FORMATS = ("png", "svg", "pdf")
STYLES = {"reproduced": {"fmt": "o", "color": "C0", "mfc": "C0"},
          "published": {"fmt": "D", "color": "C1", "mfc": "white"}}
ROW_INCHES = 0.24   # height of one series' row
MANY = 12           # more rows than this: smaller labels


@dataclass(frozen=True)
class Dot:
    label: str
    kind: str                                   # reproduced | published
    value: float
    interval: tuple[float, float] | None = None
    note: str = ""                              # printed beside the dot (e.g. how many datasets a mean covers)


@dataclass(frozen=True)
class Panel:
    title: str
    dots: list[Dot]
    band: list[float] | None = None             # reproduction view: each dot's tolerance (same units as x)


def dot_figure(title: str, panels: list[Panel], xlabel: str, note: str = "", scale: float = 100.0,
               shared: bool = True):
    """Panels side by side. `shared`: one row per series for every panel, in the order of the series' mean
    value (best on top), labelled once per line of panels, a series a panel lacks left empty on its own row;
    else each panel's own rows (the reproduction view's datasets)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _shared_rows(panels) if shared else None
    height_rows = len(rows) if shared else max(len(p.dots) for p in panels)
    longest = max(len(d.label) for p in panels for d in p.dots)
    ncols = min(4 if shared else 2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    label_inches = 0.8 + 0.062 * longest * (1 if shared else ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=shared,
                             figsize=(max(8.0, 2.7 * ncols + label_inches),  # the title and legend fit
                                      nrows * (ROW_INCHES * height_rows + 1.0) + 1.0))
    for ax, panel in zip(axes.flat, panels):
        _draw_panel(ax, panel, scale, rows)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    kinds = [k for k in STYLES if any(d.kind == k for p in panels for d in p.dots)]
    handles = [plt.Line2D([], [], linestyle="none", marker=STYLES[k]["fmt"], color=STYLES[k]["color"],
                          markerfacecolor=STYLES[k]["mfc"], label=k) for k in kinds]
    fig.legend(handles=handles, loc="upper right", fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    bottom = 0.35 / fig.get_figheight() if note else 0.0  # room for the note under the axis label
    fig.supxlabel(xlabel, fontsize=9, y=bottom)
    if note:
        fig.text(0.01, 0.005, note, fontsize=7, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, bottom, 1, 0.96))
    return fig


def _shared_rows(panels: list[Panel]) -> list[str]:
    values: dict[str, list[float]] = {}
    for panel in panels:
        for dot in panel.dots:
            values.setdefault(dot.label, []).append(dot.value)
    return sorted(values, key=lambda label: -sum(values[label]) / len(values[label]))


def _draw_panel(ax, panel: Panel, scale: float, rows: list[str] | None) -> None:
    if rows is None:  # the panel's own rows, best first
        order = sorted(range(len(panel.dots)), key=lambda i: -panel.dots[i].value)
        rows = [panel.dots[i].label for i in order]
    y_of = {label: y for y, label in enumerate(rows)}
    if panel.band is not None:
        for dot, tolerance in zip(panel.dots, panel.band):
            y = y_of[dot.label]
            ax.fill_betweenx([y - 0.4, y + 0.4], -tolerance, tolerance, color="tab:green", alpha=0.2, linewidth=0)
        ax.axvline(0, color="0.4", linewidth=0.8)
    for kind, style in STYLES.items():
        dots = [d for d in panel.dots if d.kind == kind]
        if not dots:
            continue
        # a percentile interval need not contain the point (a skewed statistic on few items): bars stop at it
        low = [max(0.0, d.value - d.interval[0]) * scale if d.interval else 0.0 for d in dots]
        high = [max(0.0, d.interval[1] - d.value) * scale if d.interval else 0.0 for d in dots]
        ax.errorbar([d.value * scale for d in dots], [y_of[d.label] for d in dots],
                    xerr=[low, high] if any(d.interval for d in dots) else None, fmt=style["fmt"],
                    color=style["color"], markerfacecolor=style["mfc"], markersize=4, capsize=2, elinewidth=0.8,
                    linestyle="none")
        for d in dots:
            if d.note:
                ax.annotate(d.note, (d.value * scale, y_of[d.label]), xytext=(5, 2), textcoords="offset points",
                            fontsize=6, color="0.35")
    ax.set_yticks(range(len(rows)), rows, fontsize=7 if len(rows) > MANY else 8)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # best on top
    ax.set_title(panel.title, fontsize=9)
    ax.margins(x=0.15)  # the axis fits the data: no forced 0
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", labelsize=7)


def save(fig, stem: Path) -> list[Path]:
    """`stem`.png (200 dpi), .svg and .pdf, each written atomically; the figure is closed."""
    import matplotlib.pyplot as plt

    written = []
    for fmt in FORMATS:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=200)
        path = stem.with_suffix(f".{fmt}")
        write_with(path, lambda handle, data=buffer.getvalue(): handle.write(data))
        written.append(path)
    plt.close(fig)
    return written
