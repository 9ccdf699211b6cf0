"""Server-side SVG charts: no script and no network needed by the viewer."""

from __future__ import annotations

from html import escape
from typing import Any

DARK = "#1d4ed8"
MID = "#93c5fd"
LIGHT = "#e5e7eb"
RED = "#dc2626"


def gauge(points: float, available: float, total: float, label: str) -> str:
    """A horizontal gauge: points, the maximum available, the full 100."""
    width, height = 560, 46
    scale = (width - 2) / total if total else 0
    return (
        f'<svg role="img" aria-label="{escape(label)}" width="100%" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="1" y="8" width="{total * scale:.1f}" height="22" fill="{LIGHT}"/>'
        f'<rect x="1" y="8" width="{available * scale:.1f}" height="22" fill="{MID}"/>'
        f'<rect x="1" y="8" width="{points * scale:.1f}" height="22" fill="{DARK}"/>'
        f'<text x="1" y="44" font-size="11" fill="#374151">0</text>'
        f'<text x="{width - 22}" y="44" font-size="11" fill="#374151">{total:g}</text>'
        "</svg>")


def group_bars(groups: list[dict[str, Any]], lang: str) -> str:
    """One bar per group: points (dark) within the available maximum (mid) and the max."""
    row, label_w, bar_w = 30, 210, 330
    height = row * len(groups) + 10
    top = max((g["max"] for g in groups), default=1) or 1
    parts = [f'<svg role="img" aria-label="groups" width="100%" '
             f'viewBox="0 0 {label_w + bar_w + 90} {height}" '
             'xmlns="http://www.w3.org/2000/svg">']
    for i, g in enumerate(groups):
        y = 5 + i * row
        scale = bar_w / top
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12" fill="#111827">'
            f'{escape(g["name"][lang])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{g["max"] * scale:.1f}" height="20" '
            f'fill="{LIGHT}"/>'
            f'<rect x="{label_w}" y="{y}" width="{(g["max_available"] or 0) * scale:.1f}" '
            f'height="20" fill="{MID}"/>'
            f'<rect x="{label_w}" y="{y}" width="{(g["points"] or 0) * scale:.1f}" '
            f'height="20" fill="{DARK}"/>'
            f'<text x="{label_w + g["max"] * scale + 6:.1f}" y="{y + 15}" font-size="12" '
            f'fill="#111827">{g["points"]:.2f} / {g["max"]:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def trend(points: list[tuple[str, float | None]], label: str) -> str:
    """A line of the score on 100 per month; months without data are gaps."""
    width, height, pad = 620, 200, 34
    n = max(len(points), 2)
    step = (width - 2 * pad) / (n - 1)

    def y(v: float) -> float:
        return height - pad - v / 100 * (height - 2 * pad)

    parts = [f'<svg role="img" aria-label="{escape(label)}" width="100%" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    for v in (0, 50, 100):
        parts.append(f'<line x1="{pad}" x2="{width - pad}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     f'stroke="{LIGHT}"/><text x="2" y="{y(v) + 4:.1f}" font-size="10" '
                     f'fill="#6b7280">{v}</text>')
    segment: list[str] = []
    for i, (month, value) in enumerate(points):
        x = pad + i * step
        parts.append(f'<text x="{x - 16:.1f}" y="{height - 10}" font-size="10" '
                     f'fill="#6b7280">{escape(month)}</text>')
        if value is None:
            if len(segment) > 1:
                parts.append(_polyline(segment))
            segment = []
            continue
        segment.append(f"{x:.1f},{y(value):.1f}")
        parts.append(f'<circle cx="{x:.1f}" cy="{y(value):.1f}" r="3" fill="{DARK}">'
                     f"<title>{escape(month)}: {value:.2f}</title></circle>")
    if len(segment) > 1:
        parts.append(_polyline(segment))
    parts.append("</svg>")
    return "".join(parts)


def _polyline(points: list[str]) -> str:
    return f'<polyline fill="none" stroke="{DARK}" stroke-width="2" points="{" ".join(points)}"/>'


def bar(value: float | None, maximum: float = 100.0, width: int = 160) -> str:
    """A small inline bar for tables."""
    if value is None:
        return ""
    w = max(0.0, min(1.0, value / maximum if maximum else 0)) * width
    color = DARK if value / (maximum or 1) >= 0.8 else MID if value / (maximum or 1) >= 0.5 \
        else RED
    return (f'<svg width="{width}" height="10" xmlns="http://www.w3.org/2000/svg">'
            f'<rect width="{width}" height="10" fill="{LIGHT}"/>'
            f'<rect width="{w:.1f}" height="10" fill="{color}"/></svg>')
