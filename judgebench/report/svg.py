"""Small inline-SVG charts (no plotting dependency): grouped bars with CI whiskers, forest, scatter, lines."""
from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D1F", "#000000"]
FONT = "font-family='system-ui,sans-serif'"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _text(x: float, y: float, s: str, size: int = 11, anchor: str = "middle", extra: str = "") -> str:
    return f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' {FONT} {extra}>{escape(s)}</text>"


def _frame(w: int, h: int, title: str, body: list[str], cls: str) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' class='chart {cls}' width='{w}' height='{h}' "
            f"viewBox='0 0 {w} {h}' role='img'><title>{escape(title)}</title>"
            f"<rect width='{w}' height='{h}' fill='white'/>" + _text(w / 2, 18, title, 13, extra="font-weight='600'")
            + "".join(body) + "</svg>")


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, n in enumerate(names):
        out.append(f"<rect x='{x:.1f}' y='{y + 16 * i - 9:.1f}' width='10' height='10' fill='{color(i)}'/>")
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
    """Bars per group (x) and series (colour); each series: {name, values, lows, highs} (None = no bar)."""
    w = max(420, 90 + len(groups) * (24 * len(series) + 26) + 150)
    h, left, top, bottom = 320, 56, 30, 250
    right = w - 150
    scale = 100.0 if percent else 1.0
    body = _yaxis(left, right, top, bottom, lo * scale, hi * scale, ".0f" if percent else ".2g", y_label)

    def y(v: float) -> float:
        return bottom - (bottom - top) * (min(max(v, lo), hi) - lo) / (hi - lo)
    gw = (right - left) / max(1, len(groups))
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
        label = g if len(g) <= 22 else g[:21] + "…"
        body.append(_text(left + gi * gw + gw / 2, bottom + 14, label, 10,
                          extra=f"transform='rotate(20 {left + gi * gw + gw / 2:.1f} {bottom + 14})'"))
    if chance is not None:
        body.append(f"<line x1='{left}' x2='{right}' y1='{y(chance):.1f}' y2='{y(chance):.1f}' stroke='#888' "
                    f"stroke-dasharray='4 3'/>" + _text(right + 3, y(chance) + 3, "chance", 9, "start"))
    body.append(f"<line x1='{left}' x2='{right}' y1='{bottom}' y2='{bottom}' stroke='#444'/>")
    body += _legend([s["name"] for s in series], right + 14, top + 10)
    return _frame(w, h, title, body, "bars")


def forest(title: str, rows: Sequence[dict[str, Any]], x_label: str = "") -> str:
    """One row per (label, value, low, high, series): a dot with its CI, and a dashed zero line."""
    h, left, right, top = 40 + 20 * len(rows) + 30, 210, 620, 30
    vals = [v for r in rows for v in (r["low"], r["high"], r["value"]) if v is not None] + [0.0]
    ticks = nice_ticks(max(abs(min(vals)), abs(max(vals)), 0.05) * 1.05)
    span = ticks[-1]

    def x(v: float) -> float:
        return left + (right - left) * (v + span) / (2 * span)
    body = [f"<line x1='{x(0):.1f}' x2='{x(0):.1f}' y1='{top}' y2='{h - 30}' stroke='#888' stroke-dasharray='4 3'/>"]
    for v in sorted({-t for t in ticks} | set(ticks)):
        body.append(_text(x(v), h - 14, f"{100 * v:+.3g}" if v else "0", 10))
    body.append(_text((left + right) / 2, h - 2, x_label, 11))
    for i, r in enumerate(rows):
        yy = top + 12 + 20 * i
        body.append(_text(left - 8, yy + 4, r["label"], 10, "end"))
        if r["value"] is None:
            continue
        c = color(r.get("series", 0))
        if r["low"] is not None and r["high"] is not None:
            body.append(f"<line x1='{x(r['low']):.1f}' x2='{x(r['high']):.1f}' y1='{yy}' y2='{yy}' stroke='{c}' "
                        f"stroke-width='2'/>")
        body.append(f"<circle class='dot' cx='{x(r['value']):.1f}' cy='{yy}' r='4' fill='{c}'/>")
    return _frame(right + 40, h, title, body, "forest")


def scatter(title: str, points: Sequence[dict[str, Any]], x_label: str, y_label: str, percent_y: bool = True) -> str:
    """Labelled points {x, y, low, high, label}; y in [0, 1]; x axis from 0 to the largest x."""
    w, h, left, right, top, bottom = 560, 320, 56, 520, 30, 270
    ticks = nice_ticks(max([p["x"] for p in points if p["x"] is not None] + [0.0]) * 1.1)
    xmax = ticks[-1]
    body = _yaxis(left, right, top, bottom, 0, 100 if percent_y else 1, ".0f" if percent_y else ".2g", y_label)

    def px(v: float) -> float:
        return left + (right - left) * v / xmax

    def py(v: float) -> float:
        return bottom - (bottom - top) * min(max(v, 0.0), 1.0)
    for v in ticks:
        body.append(_text(px(v), bottom + 14, _short(v), 10))
    body.append(_text((left + right) / 2, h - 8, x_label, 11))
    for i, p in enumerate(points):
        if p["x"] is None or p["y"] is None:
            continue
        cx, cy = px(p["x"]), py(p["y"])
        if p.get("low") is not None and p.get("high") is not None:
            body.append(f"<line x1='{cx:.1f}' x2='{cx:.1f}' y1='{py(p['low']):.1f}' y2='{py(p['high']):.1f}' "
                        f"stroke='{color(i)}'/>")
        body.append(f"<circle class='dot' cx='{cx:.1f}' cy='{cy:.1f}' r='5' fill='{color(i)}'/>")
        body.append(_text(cx + 7, cy - 6, p["label"], 10, "start"))
    body.append(f"<line x1='{left}' x2='{right}' y1='{bottom}' y2='{bottom}' stroke='#444'/>")
    return _frame(w, h, title, body, "scatter")


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


def lines(title: str, series: Sequence[dict[str, Any]], x_label: str, y_label: str, diagonal: bool = True) -> str:
    """Reliability-style chart on [0, 1]²: each series {name, xs, ys, ns}; dot size grows with n."""
    w, h, left, right, top, bottom = 520, 320, 56, 370, 30, 270
    body = _yaxis(left, right, top, bottom, 0, 1, ".1f", y_label)

    def px(v: float) -> float:
        return left + (right - left) * v

    def py(v: float) -> float:
        return bottom - (bottom - top) * v
    for k in range(6):
        body.append(_text(px(k / 5), bottom + 14, f"{k / 5:.1f}", 10))
    body.append(_text((left + right) / 2, h - 8, x_label, 11))
    if diagonal:
        body.append(f"<line x1='{px(0)}' y1='{py(0)}' x2='{px(1)}' y2='{py(1)}' stroke='#999' stroke-dasharray='4 3'/>")
    for i, s in enumerate(series):
        pts = [(px(a), py(b)) for a, b in zip(s["xs"], s["ys"])]
        if pts:
            body.append(f"<polyline fill='none' stroke='{color(i)}' stroke-width='1.5' points='"
                        + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + "'/>")
        for (a, b), n in zip(pts, s.get("ns") or [1] * len(pts)):
            body.append(f"<circle class='dot' cx='{a:.1f}' cy='{b:.1f}' r='{2 + math.log1p(n):.1f}' fill='{color(i)}'/>")
    body += _legend([s["name"] for s in series], right + 16, top + 10)
    return _frame(w, h, title, body, "lines")
