"""Charts for report tables, drawn by matplotlib as SVG to inline in the HTML (and so in the PDF)."""
from __future__ import annotations

import io
import logging
import threading

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

from .tables import Table  # noqa: E402

# Glyphs are written into the SVG as paths, so Chinese labels need no font in the PDF renderer;
# the fallback list finds a CJK font for them here (the set-up installs one: `make fonts`).
STYLE = {
    "font.family": ["DejaVu Sans", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei"],
    "font.size": 9,
    "svg.fonttype": "path",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=["#2f5d8a", "#e08a3c", "#5a9e6f", "#b5525c", "#8c7bb5", "#7f7f7f"]),
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e3e3e3",
    "legend.frameon": False,
}
# The fallback list names fonts a machine may lack; matplotlib would warn about each, per chart.
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
_LOCK = threading.Lock()  # pyplot keeps global state: one figure at a time per process


def svg(table: Table) -> str | None:
    """The table's chart as an <svg> element, or None when it has no chart or no rows."""
    chart = table.chart
    if chart is None or not table.rows:
        return None
    rows = table.as_dicts()
    labels = [str(row[chart.x]) if row[chart.x] is not None else "—" for row in rows]
    titles = {c.name: c.title for c in table.columns}
    series = [(titles[y], [float(row[y] or 0) for row in rows]) for y in chart.y]
    with _LOCK, matplotlib.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(7.0, 2.8 if chart.kind != "hbar" else 0.6 + 0.28 * len(labels)))
        try:
            _draw(axes, chart.kind, labels, series)
            if len(series) > 1:
                axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
            figure.tight_layout()
            out = io.StringIO()
            figure.savefig(out, format="svg")
        finally:
            plt.close(figure)
    text = out.getvalue()
    return text[text.index("<svg"):]


def _draw(axes, kind: str, labels: list[str], series: list[tuple[str, list[float]]]) -> None:
    positions = range(len(labels))
    if kind == "pie":
        axes.grid(False)
        axes.pie(series[0][1], labels=labels, autopct="%1.0f%%", startangle=90, counterclock=False)
        axes.axis("equal")
    elif kind == "line":
        for title, values in series:
            axes.plot(labels, values, marker="o", markersize=3, label=title)
        axes.tick_params(axis="x", labelrotation=45)
    elif kind == "hbar":
        axes.grid(axis="x")
        axes.grid(axis="y", visible=False)
        height = 0.8 / len(series)
        for n, (title, values) in enumerate(series):
            axes.barh([p + n * height for p in positions], values, height=height, label=title)
        axes.set_yticks([p + height * (len(series) - 1) / 2 for p in positions], labels)
        axes.invert_yaxis()
    elif kind == "stacked_bar":
        bottom = [0.0] * len(labels)
        for title, values in series:
            axes.bar(labels, values, bottom=bottom, label=title)
            bottom = [b + v for b, v in zip(bottom, values)]
        axes.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0)
    else:  # bar, grouped when several series
        width = 0.8 / len(series)
        for n, (title, values) in enumerate(series):
            axes.bar([p + n * width for p in positions], values, width=width, label=title)
        axes.set_xticks([p + width * (len(series) - 1) / 2 for p in positions], labels,
                        rotation=45 if len(labels) > 6 else 0)
