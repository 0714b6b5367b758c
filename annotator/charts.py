"""Small server-rendered SVG charts for the admin pages.

Every chart is built from numbers and escaped text only, and returned as Markup: no script, no
inline style (the CSP forbids it; SVG presentation attributes such as fill="#1971c2" are not
styles). Each one has role="img", an aria-label and a <title>; the page shows the same numbers
in a table beside it, so colour is never the only signal."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

COLOR = re.compile(r"#[0-9a-fA-F]{6}")
FALLBACK_COLOR = "#868e96"
TEXT = "#1d2329"
MUTED = "#5f6b76"
GRID = "#d8dde3"
FONT = 13  # px, in viewBox units: charts are drawn at about their natural size


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar."""

    label: str
    value: int
    color: str


def safe_color(value: str | None) -> str:
    """A `#rrggbb` colour, or grey: colours come from the database and go into attributes."""
    return value if value and COLOR.fullmatch(value) else FALLBACK_COLOR


def text_color(background: str) -> str:
    """Black or white, whichever reads better on the background (WCAG relative luminance)."""
    red, green, blue = (int(safe_color(background)[i:i + 2], 16) / 255 for i in (1, 3, 5))
    channel = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
               for c in (red, green, blue)]
    luminance = 0.2126 * channel[0] + 0.7152 * channel[1] + 0.0722 * channel[2]
    return "#000000" if luminance > 0.179 else "#ffffff"


def text_width(text: str, size: float = FONT) -> float:
    """About how wide text is drawn: CJK and other wide characters take a full em."""
    return sum(size if unicodedata.east_asian_width(char) in "WF" else size * 0.6
               for char in text)


def shorten(text: str, width: float, size: float = FONT) -> str:
    """Cut text to fit a width, ending with an ellipsis when cut."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _number(value: float) -> str:
    """A coordinate: at most two decimals, no exponent."""
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def _svg(width: float, height: float, title: str, body: list[str], css_class: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(css_class)}" '
            f'role="img" aria-label="{escape(title)}" viewBox="0 0 {_number(width)} '
            f'{_number(height)}" width="{_number(width)}" height="{_number(height)}" '
            f'font-size="{FONT}" font-family="system-ui, sans-serif" fill="{TEXT}">'
            f'<title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def _rect(x: float, y: float, width: float, height: float, color: str, tip: str) -> str:
    return (f'<rect x="{_number(x)}" y="{_number(y)}" width="{_number(width)}" '
            f'height="{_number(height)}" fill="{safe_color(color)}">'
            f'<title>{escape(tip)}</title></rect>')


def _text(x: float, y: float, text: str, *, anchor: str = "start", color: str = TEXT,
          size: float = FONT, bold: bool = False) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (f'<text x="{_number(x)}" y="{_number(y)}" text-anchor="{anchor}" '
            f'fill="{safe_color(color)}" font-size="{_number(size)}"{weight}>{escape(text)}</text>')


def _legend(segments: Sequence[Segment], y: float, width: float) -> tuple[list[str], float]:
    """Swatches with names and values, wrapped to the width; returns the parts and the height."""
    parts, x, row = [], 0.0, 0
    for segment in segments:
        label = f"{segment.label}: {segment.value}"
        item = 16 + text_width(label) + 18
        if x and x + item > width:
            x, row = 0.0, row + 1
        top = y + row * 20
        parts.append(f'<rect x="{_number(x)}" y="{_number(top)}" width="12" height="12" '
                     f'rx="2" fill="{safe_color(segment.color)}"/>')
        parts.append(_text(x + 16, top + 10.5, label))
        x += item
    return parts, (row + 1) * 20 if segments else 0


def stacked_bar(segments: Sequence[Segment], *, title: str, width: float = 640,
                unit: str = "") -> Markup:
    """One horizontal bar split into parts (e.g. finished / in progress / untouched), each part
    labeled with its value where it fits, and a legend below."""
    total = sum(max(segment.value, 0) for segment in segments)
    bar_height = 28
    body, x = [], 0.0
    if total:
        for segment in segments:
            if segment.value <= 0:
                continue
            part = width * segment.value / total
            share = round(100 * segment.value / total)
            body.append(_rect(x, 0, part, bar_height, segment.color,
                              f"{segment.label}: {segment.value}{unit} ({share}%)"))
            inside = f"{segment.value} ({share}%)"
            if text_width(inside) + 8 <= part:
                body.append(_text(x + part / 2, 18.5, inside, anchor="middle",
                                  color=text_color(safe_color(segment.color))))
            x += part
    else:
        body.append(f'<rect x="0" y="0" width="{_number(width)}" height="{bar_height}" '
                    f'fill="none" stroke="{GRID}"/>')
        body.append(_text(width / 2, 18.5, "0", anchor="middle", color=MUTED))
    legend, legend_height = _legend(segments, bar_height + 10, width)
    return _svg(width, bar_height + 10 + legend_height, title, body + legend, "chart-stacked")


def _nice_max(value: int) -> int:
    """A round axis maximum at or above value: 1, 2, 5, 10, 20, 50, ..."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def daily_bars(days: Sequence[date], values: Sequence[int], *, title: str,
               scale_max: int | None = None, color: str = "#1c64d1", width: float = 240,
               height: float = 90) -> Markup:
    """A small bar chart of counts per day (one of a set of small multiples: pass the same
    scale_max to each so their bars compare). The axis shows 0 and the maximum, the first and
    last day; every bar has its day and value as a tooltip, and the largest value is written."""
    highest = _nice_max(scale_max if scale_max is not None else max(values, default=0))
    top, bottom, right = 14, 18, 4
    left = text_width(str(highest), 10) + 8  # room for the axis maximum
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(days), 1)
    body = [f'<line x1="{_number(left)}" y1="{_number(top + plot_h)}" '
            f'x2="{_number(width - right)}" y2="{_number(top + plot_h)}" stroke="{GRID}"/>',
            f'<line x1="{_number(left)}" y1="{top}" x2="{_number(width - right)}" y2="{top}" '
            f'stroke="{GRID}" stroke-dasharray="2 3"/>',
            _text(left - 4, top + plot_h, "0", anchor="end", color=MUTED, size=10),
            _text(left - 4, top + 4, str(highest), anchor="end", color=MUTED, size=10)]
    peak = max(range(len(values)), key=lambda n: values[n], default=None)
    for n, (day, value) in enumerate(zip(days, values)):
        bar = plot_h * value / highest
        x = left + n * slot + slot * 0.15
        if value:
            body.append(_rect(x, top + plot_h - bar, slot * 0.7, bar, color,
                              f"{day.isoformat()}: {value}"))
        else:  # a visible tick for "nothing that day", with its tooltip
            body.append(_rect(x, top + plot_h - 1, slot * 0.7, 1, GRID,
                              f"{day.isoformat()}: 0"))
        if n == peak and value:
            body.append(_text(x + slot * 0.35, top + plot_h - bar - 3, str(value),
                              anchor="middle", size=10, bold=True))
    if days:
        body.append(_text(left, height - 4, _short_day(days[0]), color=MUTED, size=10))
        body.append(_text(width - right, height - 4, _short_day(days[-1]), anchor="end",
                          color=MUTED, size=10))
    return _svg(width, height, title, body, "chart-daily")


def _short_day(day: date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


def distribution_bars(rows: Sequence[tuple[str, Sequence[Segment]]], *, title: str,
                      width: float = 720) -> Markup:
    """One 100% bar per row (e.g. per annotator) split by label, each part in its label's
    colour and marked with its share where it fits; the row's total is written at the end,
    the legend (label names) below."""
    bar_height, gap = 22, 8
    name_width = min(max((text_width(name) for name, _ in rows), default=0), 160) + 14
    total_width = max((text_width(str(sum(max(s.value, 0) for s in segments)))
                       for _, segments in rows), default=0) + 14
    plot_w = width - name_width - total_width
    body = []
    for n, (name, segments) in enumerate(rows):
        y = n * (bar_height + gap)
        body.append(f'<text x="{_number(name_width - 8)}" y="{_number(y + 15)}" '
                    f'text-anchor="end" fill="{TEXT}">{escape(shorten(name, name_width - 10))}'
                    f'<title>{escape(name)}</title></text>')
        total = sum(max(segment.value, 0) for segment in segments)
        x = name_width
        if not total:
            body.append(f'<rect x="{_number(x)}" y="{_number(y)}" width="{_number(plot_w)}" '
                        f'height="{bar_height}" fill="none" stroke="{GRID}"/>')
        for segment in segments:
            if total == 0 or segment.value <= 0:
                continue
            part = plot_w * segment.value / total
            share = round(100 * segment.value / total)
            body.append(_rect(x, y, part, bar_height, segment.color,
                              f"{name} · {segment.label}: {segment.value} ({share}%)"))
            if text_width(f"{share}%", 11) + 6 <= part:
                body.append(_text(x + part / 2, y + 15, f"{share}%", anchor="middle", size=11,
                                  color=text_color(safe_color(segment.color))))
            x += part
        body.append(_text(width - 4, y + 15, str(total), anchor="end", color=MUTED))
    rows_height = max(len(rows) * (bar_height + gap), bar_height + gap)
    legend_items = [Segment(segment.label, 0, segment.color) for segment in rows[0][1]] \
        if rows else []
    legend = []
    x = name_width
    for item in legend_items:  # names only: the values differ per row
        legend.append(f'<rect x="{_number(x)}" y="{_number(rows_height + 2)}" width="12" '
                      f'height="12" rx="2" fill="{safe_color(item.color)}"/>')
        legend.append(_text(x + 16, rows_height + 12.5, item.label))
        x += 16 + text_width(item.label) + 18
    return _svg(width, rows_height + (24 if legend_items else 0), title, body + legend,
                "chart-distribution")


def interval_plot(rows: Sequence[tuple[str, float | None, float | None, float | None]], *,
                  title: str, width: float = 720) -> Markup:
    """Point estimates with their confidence intervals on one scale (a forest plot), with
    the Landis & Koch band edges drawn as faint lines; undefined values are written "n/a".
    The scale is 0 to 1, or -1 to 1 when anything falls below 0."""
    row_height, top, value_width = 26, 20, 60
    name_width = min(max((text_width(name) for name, *_ in rows), default=0), 200) + 14
    ends = [v for _, *numbers in rows for v in numbers if v is not None]
    low, high = (-1.0 if any(v < 0 for v in ends) else 0.0), 1.0
    plot_left, plot_right = name_width, width - value_width
    plot_w = plot_right - plot_left

    def at(value: float) -> float:
        clamped = min(max(value, low), high)
        return plot_left + plot_w * (clamped - low) / (high - low)

    height = top + len(rows) * row_height + 6
    body = []
    for tick in (-1.0, -0.5, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        if low <= tick <= high:
            body.append(f'<line x1="{_number(at(tick))}" y1="{top - 4}" '
                        f'x2="{_number(at(tick))}" y2="{_number(height - 4)}" stroke="{GRID}"'
                        + (' stroke-width="1.5"' if tick == 0 else ' stroke-dasharray="2 3"')
                        + "/>")
            body.append(_text(at(tick), top - 8, f"{tick:g}", anchor="middle", color=MUTED,
                              size=10))
    for n, (name, value, lower, upper) in enumerate(rows):
        y = top + n * row_height + row_height / 2
        body.append(f'<text x="{_number(name_width - 8)}" y="{_number(y + 4)}" '
                    f'text-anchor="end">{escape(shorten(name, name_width - 10))}'
                    f'<title>{escape(name)}</title></text>')
        if value is None:
            body.append(_text(plot_left + 4, y + 4, "n/a", color=MUTED))
            continue
        shown = f"{value:.2f}" + (f" [{lower:.2f}, {upper:.2f}]"
                                  if lower is not None and upper is not None else "")
        if lower is not None and upper is not None:
            body.append(f'<line x1="{_number(at(lower))}" y1="{_number(y)}" '
                        f'x2="{_number(at(upper))}" y2="{_number(y)}" stroke="{TEXT}" '
                        f'stroke-width="2"><title>{escape(name)}: {escape(shown)}</title></line>')
            for end in (lower, upper):
                body.append(f'<line x1="{_number(at(end))}" y1="{_number(y - 5)}" '
                            f'x2="{_number(at(end))}" y2="{_number(y + 5)}" stroke="{TEXT}"/>')
        body.append(f'<circle cx="{_number(at(value))}" cy="{_number(y)}" r="5" '
                    f'fill="#1c64d1"><title>{escape(name)}: {escape(shown)}</title></circle>')
        body.append(_text(width - 4, y + 4, f"{value:.2f}", anchor="end", bold=True))
    return _svg(width, height, title, body, "chart-interval")
