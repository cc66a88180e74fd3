"""Small inline-SVG charts (no plotting dependency): grouped bars, forest, scatter, reliability.

Every chart sizes itself from the text it draws (:func:`text_width` is a conservative estimate of a sans-serif
string's width), so titles, legends and axis labels always lie inside the SVG.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#000000"]
FONT = "font-family='DejaVu Sans,Verdana,sans-serif'"
_NARROW = set("iljtfrI!|.,:;'`()[]{} /-")
_WIDE = set("mwMW@%")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def text_width(s: str, size: float) -> float:
    """An upper estimate of the rendered width (px) of ``s`` at font ``size`` (wide sans-serif metrics)."""
    em = sum(0.36 if ch in _NARROW else 0.98 if ch in _WIDE else 0.76 if ch.isupper() else 0.64 for ch in s)
    return em * size + 2


def _text(x: float, y: float, s: str, size: int = 11, anchor: str = "middle", extra: str = "") -> str:
    return f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' {FONT} {extra}>{escape(s)}</text>"


def _frame(w: float, h: float, title: str, body: list[str], cls: str) -> str:
    w = math.ceil(max(w, text_width(title, 13) + 24))
    h = math.ceil(h)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' class='chart {cls}' width='{w}' height='{h}' "
            f"viewBox='0 0 {w} {h}' role='img'><title>{escape(title)}</title>"
            f"<rect width='{w}' height='{h}' fill='white'/>" + _text(w / 2, 18, title, 13, extra="font-weight='600'")
            + "".join(body) + "</svg>")


def legend_width(names: Sequence[str]) -> float:
    return 18 + max((text_width(n, 11) for n in names), default=0) + 8


def _legend(names: Sequence[str], x: float, y: float, first: int = 0) -> list[str]:
    out = []
    for i, n in enumerate(names):
        out.append(f"<rect x='{x:.1f}' y='{y + 16 * i - 9:.1f}' width='10' height='10' fill='{color(first + i)}'/>")
        out.append(_text(x + 14, y + 16 * i, n, 11, "start"))
    return out


def _yaxis(x0: float, x1: float, top: float, bottom: float, lo: float, hi: float, fmt: str, label: str) -> list[str]:
    out = []
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        y = bottom - (bottom - top) * k / 5
        out.append(f"<line x1='{x0}' x2='{x1}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e5e5e5'/>")
        out.append(_text(x0 - 4, y + 4, format(v, fmt), 10, "end"))
    out.append(_text(14, (top + bottom) / 2, label, 11, extra=f"transform='rotate(-90 14 {(top + bottom) / 2:.1f})'"))
    return out


def grouped_bars(title: str, groups: Sequence[str], series: Sequence[dict[str, Any]], y_label: str = "",
                 lo: float = 0.0, hi: float = 1.0, percent: bool = True, chance: float | None = None) -> str:
    """Bars per group (x) and series (colour); each series: {name, values, lows, highs} (None = no bar).
    Group labels are horizontal when they fit under their group, else slanted, with room made for them."""
    gw = max(26 * len(series) + 20, 60)
    label_w = max((text_width(g, 10) for g in groups), default=0)
    slant = label_w > gw - 6
    angle = math.radians(35)
    left = 56 + (max(0.0, label_w * math.cos(angle) - gw / 2) if slant else 0)
    top = 34
    bottom = top + 210
    right = left + gw * max(1, len(groups))
    h = bottom + (label_w * math.sin(angle) + 26 if slant else 28)
    scale = 100.0 if percent else 1.0
    body = _yaxis(left, right, top, bottom, lo * scale, hi * scale, ".0f" if percent else ".2g", y_label)

    def y(v: float) -> float:
        return bottom - (bottom - top) * (min(max(v, lo), hi) - lo) / (hi - lo)
    bw = min(22.0, (gw - 10) / max(1, len(series)))
    for gi, g in enumerate(groups):
        gx = left + gi * gw + (gw - bw * len(series)) / 2
        for si, s in enumerate(series):
            v = s["values"][gi]
            if v is None:
                continue
            x = gx + si * bw
            body.append(f"<rect class='bar' x='{x:.1f}' y='{y(v):.1f}' width='{bw - 2:.1f}' "
                        f"height='{max(0.0, bottom - y(v)):.1f}' fill='{color(si)}'><title>{escape(s['name'])} "
                        f"{escape(g)}: {v * scale:.1f}</title></rect>")
            low, high = s.get("lows", [None] * len(groups))[gi], s.get("highs", [None] * len(groups))[gi]
            if low is not None and high is not None:
                cx = x + (bw - 2) / 2
                body.append(f"<path d='M{cx:.1f},{y(low):.1f}V{y(high):.1f}M{cx - 3:.1f},{y(low):.1f}h6"
                            f"M{cx - 3:.1f},{y(high):.1f}h6' stroke='#222' stroke-width='1.2'/>")
        cx = left + gi * gw + gw / 2
        if slant:
            body.append(_text(cx + 4, bottom + 14, g, 10, "end", f"transform='rotate(-35 {cx + 4:.1f} {bottom + 14})'"))
        else:
            body.append(_text(cx, bottom + 16, g, 10))
    right_edge = right + 8
    if chance is not None:
        body.append(f"<line x1='{left}' x2='{right}' y1='{y(chance):.1f}' y2='{y(chance):.1f}' stroke='#888' "
                    f"stroke-dasharray='4 3'/>" + _text(right + 3, y(chance) + 3, "chance", 9, "start"))
        right_edge = right + 3 + text_width("chance", 9) + 6
    body.append(f"<line x1='{left}' x2='{right}' y1='{bottom}' y2='{bottom}' stroke='#444'/>")
    names = [s["name"] for s in series]
    body += _legend(names, right_edge + 6, top + 10)
    w = right_edge + 6 + legend_width(names)
    return _frame(w, max(h, top + 16 * len(names) + 20), title, body, "bars")


def forest(title: str, rows: Sequence[dict[str, Any]], x_label: str = "", *, lo: float | None = None,
           hi: float | None = None, legend: Sequence[str] = (), legend_first: int = 0, percent_ticks: bool = True) -> str:
    """Dots with CI bars, one line per row {label, value, low, high, series, bold}; a row without a label continues
    the previous one, a row without a value is a gap.  The x axis is symmetric around zero (with a dashed zero line)
    unless ``lo``/``hi`` are given."""
    label_w = max((text_width(r["label"], 10) * (1.1 if r.get("bold") else 1.0) for r in rows if r.get("label")),
                  default=0)
    left, top, plot_w, step = 8 + label_w + 10, 30 + (16 * len(legend) if legend else 0), 380, 16
    right = left + plot_w
    h = top + 10 + step * len(rows) + 40
    if lo is None or hi is None:
        vals = [v for r in rows for v in (r.get("low"), r.get("high"), r.get("value")) if v is not None] + [0.0]
        ticks = nice_ticks(max(abs(min(vals)), abs(max(vals)), 0.05) * 1.05)
        lo, hi = -ticks[-1], ticks[-1]
        tick_vals = sorted({-t for t in ticks} | set(ticks))
        zero = True
    else:
        tick_vals = [lo + (hi - lo) * k / 5 for k in range(6)]
        zero = False

    def x(v: float) -> float:
        return left + (right - left) * (min(max(v, lo), hi) - lo) / (hi - lo)  # type: ignore[operator]
    bottom = top + 4 + step * len(rows)
    body = []
    for v in tick_vals:
        body.append(f"<line x1='{x(v):.1f}' x2='{x(v):.1f}' y1='{top}' y2='{bottom}' stroke='#eee'/>")
        body.append(_text(x(v), bottom + 14, (f"{100 * v:+.3g}" if v else "0") if zero and percent_ticks
                          else f"{100 * v:.0f}" if percent_ticks else f"{v:g}", 10))
    if zero:
        body.append(f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='{top}' y2='{bottom}' stroke='#888' "
                    f"stroke-dasharray='4 3'/>")
    body.append(_text((left + right) / 2, bottom + 30, x_label, 11))
    for i, r in enumerate(rows):
        yy = top + 10 + step * i
        if r.get("label"):
            body.append(_text(left - 8, yy + 4, r["label"], 10, "end", "font-weight='600'" if r.get("bold") else ""))
        if r.get("value") is None:
            continue
        c = color(r.get("series", 0))
        if r.get("low") is not None and r.get("high") is not None:
            body.append(f"<line x1='{x(r['low']):.1f}' x2='{x(r['high']):.1f}' y1='{yy}' y2='{yy}' stroke='{c}' "
                        f"stroke-width='2'/>")
        body.append(f"<circle class='dot' cx='{x(r['value']):.1f}' cy='{yy}' r='4' fill='{c}'/>")
    if legend:
        body += _legend(legend, left, 38, legend_first)
    w = max(right + 24, left + legend_width(legend) if legend else 0)
    return _frame(w, h, title, body, "forest")


def scatter(title: str, points: Sequence[dict[str, Any]], x_label: str, y_label: str, percent_y: bool = True) -> str:
    """Points {x, y, low, high, label} coloured by index; y in [0, 1]; x from 0 to the largest x; a legend names them."""
    left, right, top, bottom = 56, 420, 30, 270
    ticks = nice_ticks(max([p["x"] for p in points if p["x"] is not None] + [0.0]) * 1.1)
    xmax = ticks[-1]
    body = _yaxis(left, right, top, bottom, 0, 100 if percent_y else 1, ".0f" if percent_y else ".2g", y_label)

    def px(v: float) -> float:
        return left + (right - left) * v / xmax

    def py(v: float) -> float:
        return bottom - (bottom - top) * min(max(v, 0.0), 1.0)
    for v in ticks:
        body.append(_text(px(v), bottom + 14, _short(v), 10))
    body.append(_text((left + right) / 2, bottom + 34, x_label, 11))
    for i, p in enumerate(points):
        if p["x"] is None or p["y"] is None:
            continue
        cx, cy = px(p["x"]), py(p["y"])
        if p.get("low") is not None and p.get("high") is not None:
            body.append(f"<line x1='{cx:.1f}' x2='{cx:.1f}' y1='{py(p['low']):.1f}' y2='{py(p['high']):.1f}' "
                        f"stroke='{color(i)}'/>")
        body.append(f"<circle class='dot' cx='{cx:.1f}' cy='{cy:.1f}' r='5' fill='{color(i)}'/>")
    body.append(f"<line x1='{left}' x2='{right}' y1='{bottom}' y2='{bottom}' stroke='#444'/>")
    names = [p["label"] for p in points]
    body += _legend(names, right + 24, top + 10)
    return _frame(right + 24 + legend_width(names), max(bottom + 44, top + 16 * len(names) + 20), title, body,
                  "scatter")


def nice_ticks(top: float, n: int = 5) -> list[float]:
    """Round ticks from 0 to at least ``top``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not top > 0:
        return [0.0, 1.0]
    raw = top / (n - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [round(k * step, 12) for k in range(math.ceil(top / step - 1e-9) + 1)]


def _short(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def reliability(title: str, series: Sequence[dict[str, Any]], n_bins: int = 10) -> str:
    """Reliability diagram on [0, 1]²: per series {name, curve: [{lo, hi, n, confidence, accuracy}], series (colour
    index, optional)}, the mean accuracy against the mean confidence per bin, and under it a grid with every bin's
    count per series."""
    left, top, size = 56, 30, 300
    right, bottom = left + size, top + size
    body = _yaxis(left, right, top, bottom, 0, 1, ".1f", "accuracy")

    def px(v: float) -> float:
        return left + size * v

    def py(v: float) -> float:
        return bottom - size * v
    for k in range(6):
        body.append(_text(px(k / 5), bottom + 14, f"{k / 5:.1f}", 10))
    body.append(_text((left + right) / 2, bottom + 30, "mean confidence (bins of 0.1)", 11))
    body.append(f"<line x1='{px(0)}' y1='{py(0)}' x2='{px(1)}' y2='{py(1)}' stroke='#999' stroke-dasharray='4 3'/>")
    grid_top = bottom + 52
    body.append(_text(left - 4, grid_top, "n per bin", 10, "end", "font-weight='600'"))
    bin_w = size / n_bins
    for row, s in enumerate(series):
        i = s.get("series", row)  # the judge's colour in the other figures
        pts = [(px(b["confidence"]), py(b["accuracy"])) for b in s["curve"]]
        if pts:
            body.append(f"<polyline fill='none' stroke='{color(i)}' stroke-width='1.5' points='"
                        + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + "'/>")
        for (a, b), point in zip(pts, s["curve"]):
            body.append(f"<circle class='dot' cx='{a:.1f}' cy='{b:.1f}' r='{2 + math.log1p(point['n']):.1f}' "
                        f"fill='{color(i)}'><title>{escape(s['name'])}: n={point['n']}</title></circle>")
        yy = grid_top + 16 * (row + 1)
        body.append(f"<rect x='{left - 14}' y='{yy - 9}' width='10' height='10' fill='{color(i)}'/>")
        counts = {min(n_bins - 1, round(b["lo"] * n_bins)): b["n"] for b in s["curve"]}
        for k in range(n_bins):
            body.append(_text(left + bin_w * (k + 0.5), yy, str(counts.get(k, "·")), 9, extra="class='bin-n'"))
    names = [s["name"] for s in series]
    for k, s in enumerate(series):
        body += _legend([s["name"]], right + 20, top + 10 + 16 * k, s.get("series", k))
    h = max(grid_top + 16 * len(series) + 14, top + 16 * len(names) + 20)
    return _frame(right + 20 + legend_width(names), h, title, body, "reliability")
