"""Charts of report tables: matplotlib figures written as SVG to inline in the report's HTML (and so its PDF)."""

from __future__ import annotations

import io
import logging
import re
import threading

import matplotlib
from matplotlib import font_manager, ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .fonts import CJK_FONT, LATIN_FONT
from .tables import Chart, Table

log = logging.getLogger(__name__)
KINDS = ("bar", "hbar", "stacked_bar", "line", "pie")
# One accent (the report's blue), its tints, then slate greys: series stay apart without a rainbow.
PALETTE = ("#1f4e79", "#5b8cc0", "#a9c5e3", "#5d6d7e", "#aab7c4", "#d5dde5")
WIDTH_IN = 7.0  # A4's 210 mm less 2 x 16 mm margins: the SVG is drawn at the size it is printed
MAX_LABEL = 28  # characters of an axis label before it is cut with "…"


def _font_families() -> list[str]:
    """The latin font, then the CJK one for the glyphs it lacks (reports/fonts.py names both). Without the CJK
    font (no `make fonts`) Chinese is drawn as boxes and this says so once, rather than matplotlib at every
    chart. A font installed after matplotlib cached its font list (`make fonts` after a first run) is not in
    that cache, so the system fonts are scanned once more before giving up."""
    manager = font_manager.fontManager
    if CJK_FONT not in {f.name for f in manager.ttflist}:
        known = {f.fname for f in manager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    manager.addfont(path)  # every face of a .ttc (matplotlib 3.11+)
                except Exception:  # an unreadable font file is skipped, as matplotlib's own scan does
                    continue
    if CJK_FONT not in {f.name for f in manager.ttflist}:
        log.warning("charts draw Chinese as boxes: the font %r is not installed (run `make fonts`)", CJK_FONT)
        return [LATIN_FONT]
    return [LATIN_FONT, CJK_FONT]


# Applied per chart through rc_context, so other users of matplotlib keep their own settings.
STYLE = {
    "font.family": _font_families(),
    "font.size": 8,
    "svg.fonttype": "path",  # glyphs travel inside the SVG: the PDF needs no font for chart text
    "svg.hashsalt": "atrium",  # stable clip-path ids: the same table gives the same SVG
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.edgecolor": "#8a96a3",
    "axes.labelcolor": "#333333",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "axes.formatter.useoffset": False,
    "grid.color": "#e4e8ec",
    "grid.linewidth": 0.6,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "xtick.major.size": 0,
    "ytick.major.size": 0,
    "legend.frameon": False,
    "legend.fontsize": 8,
}
# rcParams are process-wide: rc_context must not interleave between threads (the scheduler and
# request threads may render at once), or one would restore the other's settings.
_LOCK = threading.Lock()
_STYLE_ATTRIBUTE = re.compile(r' style="([^"]*)"')
_GROUP_ID = re.compile(r'<g id="[^"]*"')
_ID_OR_REFERENCE = re.compile(r'(\bid="|href="#|url\(#)')


def svg(table: Table) -> str | None:
    """The table's chart as an <svg> element, or None when it has no chart or nothing to draw.

    Raises ValueError when the chart names an unknown kind or a column the table lacks."""
    chart = table.chart
    if chart is None or not table.rows:
        return None
    _check(table, chart)
    rows = table.as_dicts()
    labels = [_label(row[chart.x]) for row in rows]
    kinds = {c.name: c.kind for c in table.columns}
    titles = {c.name: c.title for c in table.columns}
    series = [(titles[y], [float(row[y]) if row[y] is not None else 0.0 for row in rows]) for y in chart.y]
    if chart.kind == "pie" and (sum(series[0][1]) <= 0 or min(series[0][1]) < 0):
        return None  # no shares to show; the table below still lists the figures
    # Horizontal bars grow with their rows, up to most of a page (a chart is never split across pages).
    height = min(9.0, max(1.6, 0.5 + 0.22 * len(labels) * len(series))) if chart.kind == "hbar" else 2.6
    with _LOCK, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(WIDTH_IN, height))
        FigureCanvasAgg(figure)  # text is measured for layout without any display
        axes = figure.add_subplot()
        _draw(axes, chart.kind, labels, series)
        if chart.kind != "pie":
            _format_values(axes.xaxis if chart.kind == "hbar" else axes.yaxis, {kinds[y] for y in chart.y})
        if len(series) > 1 and chart.kind != "pie":  # a pie shows its first series, with its own legend
            axes.legend(
                loc="lower left",
                bbox_to_anchor=(0, 1.01),
                ncols=len(series),
                borderaxespad=0,
                handlelength=1.0,
                columnspacing=1.2,
            )
        figure.tight_layout(pad=0.4)
        figure.set_layout_engine(None)  # laid out once: savefig need not draw it twice
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    return _inlinable(out.getvalue(), prefix=re.sub(r"\W", "_", table.name) + "-")


def _check(table: Table, chart: Chart) -> None:
    if chart.kind not in KINDS:
        raise ValueError(f"table {table.name!r}: unknown chart kind {chart.kind!r} (one of {', '.join(KINDS)})")
    if not chart.y:
        raise ValueError(f"table {table.name!r}: its chart names no y column")
    names = {c.name for c in table.columns}
    missing = [name for name in (chart.x, *chart.y) if name not in names]
    if missing:
        raise ValueError(f"table {table.name!r}: its chart names {', '.join(missing)}, not among its columns")


def _label(value) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _draw(axes, kind: str, labels: list[str], series: list[tuple[str, list[float]]]) -> None:
    positions = range(len(labels))
    if kind == "pie":
        axes.grid(False)
        # Shares on the ring (unless too thin to hold one), names in a legend: labels of thin slices would collide.
        wedges, _, _ = axes.pie(
            series[0][1],
            autopct=lambda share: f"{share:.0f} %" if share >= 4 else "",
            startangle=90,
            counterclock=False,
            pctdistance=0.78,
            wedgeprops={"linewidth": 1, "edgecolor": "white", "width": 0.45},
            textprops={"color": "white", "fontsize": 7},
        )
        axes.legend(wedges, labels, loc="center left", bbox_to_anchor=(1.0, 0.5))
        axes.set_aspect("equal")
    elif kind == "hbar":
        axes.grid(axis="y", visible=False)
        axes.spines[["left", "bottom"]].set_visible(False)
        height = 0.8 / len(series)
        for n, (title, values) in enumerate(series):
            axes.barh([p + n * height for p in positions], values, height=height, label=title)
        axes.set_yticks([p + height * (len(series) - 1) / 2 for p in positions], labels)
        axes.invert_yaxis()  # first row on top, as in the table
    else:
        axes.grid(axis="x", visible=False)
        if kind == "line":
            for title, values in series:
                axes.plot(labels, values, marker="o", markersize=3, linewidth=1.5, label=title)
        elif kind == "stacked_bar":
            bottom = [0.0] * len(labels)
            for title, values in series:
                axes.bar(labels, values, width=0.6, bottom=bottom, label=title)
                bottom = [b + v for b, v in zip(bottom, values)]
        else:  # bar: grouped side by side when several series
            width = 0.8 / len(series)
            for n, (title, values) in enumerate(series):
                axes.bar([p + n * width for p in positions], values, width=width, label=title)
            axes.set_xticks([p + width * (len(series) - 1) / 2 for p in positions], labels)
        if _text_width(labels) > 100:  # long or many labels would overlap side by side
            axes.tick_params(axis="x", labelrotation=30)
            for text in axes.get_xticklabels():
                text.set_horizontalalignment("right")
                text.set_rotation_mode("anchor")


def _text_width(labels: list[str]) -> int:
    """The labels' width side by side in latin characters (a Chinese one is about two), with gaps."""
    return sum(2 if ord(char) >= 0x2E80 else 1 for label in labels for char in label) + 2 * len(labels)


def _format_values(axis, kinds: set[str]) -> None:
    """Ticks on the value axis read like the table: 87 %, 1,234."""
    if kinds == {"percent"}:
        axis.set_major_formatter(ticker.PercentFormatter(xmax=1, decimals=0, symbol=" %"))
    elif kinds == {"int"}:
        axis.set_major_locator(ticker.MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))
        axis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))


def _inlinable(document: str, *, prefix: str) -> str:
    """matplotlib's SVG file made fit to sit in HTML next to other charts: no XML prolog; `style` attributes
    become presentation attributes (in HTML, WeasyPrint parses each `style` as CSS and warns about every SVG
    property); group ids dropped and glyph and clip-path ids prefixed, as they repeat from chart to chart."""
    element = document[document.index("<svg") :]
    element = _STYLE_ATTRIBUTE.sub(
        lambda m: "".join(
            f' {name.strip()}="{value.strip()}"'
            for name, value in (part.split(":", 1) for part in m.group(1).split(";") if ":" in part)
        ),
        element,
    )
    return _ID_OR_REFERENCE.sub(rf"\1{prefix}", _GROUP_ID.sub("<g", element))
