"""Server-rendered SVG charts for the admin: no script, no library, nothing the CSP blocks.

Each function returns safe markup (format_html) sized by its viewBox, so the SVG scales to its
container; colours come from CSS classes (flowbase/admin.css) built on the admin's variables, so
dark mode works. Every bar and point carries a <title> with its value for hover.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    width: int = 720,
    height: int = 160,
    unit: str = "",
    tick_every: int | None = None,
) -> SafeString:
    """Stacked columns: one per label, `series` = (name, css class, values per label)."""
    n = len(labels)
    if not n or not series:
        return SafeString("")
    totals = [sum(float(s[2][i] or 0) for s in series) for i in range(n)]
    top = max(totals) or 1.0
    left, bottom = 40, 18
    plot_w, plot_h = width - left - 4, height - bottom - 6
    step = plot_w / n
    bar = max(min(step - 1, 28), 1)
    tick_every = tick_every or max(1, n // 8)
    # Text is escaped once per series and column, not per bar: a week of hourly columns is
    # ~800 bars, and format_html per bar cost more than the query behind them.
    suffix = escape(f" {unit}") if unit else ""
    escaped = [(escape(name), escape(css), values) for name, css, values in series]
    parts = []
    for i, label in enumerate(labels):
        label_html = escape(label)
        x = left + i * step + (step - bar) / 2
        y = 6 + plot_h
        for name, css, values in escaped:
            v = float(values[i] or 0)
            if v <= 0:
                continue
            h = v / top * plot_h
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{max(h, 0.5):.1f}"'
                f' class="{css}"><title>{label_html}: {_fmt(v)} {name}{suffix}</title></rect>'
            )
        if i % tick_every == 0:
            parts.append(
                f'<text x="{left + i * step + step / 2:.1f}" y="{height - 4}"'
                f' text-anchor="middle">{label_html}</text>'
            )
    axis = format_html(
        '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>'
        '<text x="{}" y="12" text-anchor="end">{}</text><text x="{}" y="{}" text-anchor="end">0</text>',
        left,
        6 + plot_h,
        width - 4,
        6 + plot_h,
        left - 4,
        _fmt(top),
        left - 4,
        6 + plot_h,
    )
    legend = format_html_join(
        "",
        '<span class="{}">{} ({})</span>',
        ((css, name, _fmt(sum(float(v or 0) for v in values))) for name, css, values in series),
    )
    return _svg(width, height, axis, parts, legend)


def sparkline(
    values: Sequence[float | None],
    *,
    width: int = 160,
    height: int = 28,
    label: Callable[[float], str] = _fmt,
) -> SafeString:
    """A line over the values (None = gap skipped); the title lists min, max and last."""
    points = [float(v) for v in values if v is not None]
    if not points:
        return SafeString("")
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    step = width / max(len(points) - 1, 1)
    coords = " ".join(
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(points)
    )
    return format_html(
        '<svg class="fb-spark" width="{}" height="{}" viewBox="0 0 {} {}" role="img">'
        '<title>min {} · max {} · last {}</title><polyline points="{}"/></svg>',
        width,
        height,
        width,
        height,
        label(low),
        label(high),
        label(points[-1]),
        coords,
    )


def share_bar(
    parts: Sequence[tuple[str, str, float]], *, width: int = 720, height: int = 22
) -> SafeString:
    """One horizontal bar split by share, (name, css class, count); a legend with counts."""
    total = sum(float(c or 0) for _n, _c, c in parts)
    if total <= 0:
        return SafeString("")
    x = 0.0
    rects = []
    for name, css, count in parts:
        w = float(count or 0) / total * width
        if w <= 0:
            continue
        rects.append(
            format_html(
                '<rect x="{}" y="0" width="{}" height="{}" class="{}"><title>{}: {} ({}%)</title></rect>',
                f"{x:.1f}",
                f"{w:.1f}",
                height,
                css,
                name,
                _fmt(count),
                f"{float(count) / total * 100:.0f}",
            )
        )
        x += w
    legend = format_html_join(
        "",
        '<span class="{}">{} {}</span>',
        ((css, name, _fmt(count)) for name, css, count in parts if count),
    )
    return format_html(
        '<svg class="fb-chart" viewBox="0 0 {} {}" role="img" preserveAspectRatio="none">{}</svg>'
        '<div class="fb-legend">{}</div>',
        width,
        height,
        mark_safe("".join(rects)),  # each rect built by format_html above
        legend,
    )


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    width: int = 720,
    height: int = 120,
    label: Callable[[float], str] = _fmt,
    zero_based: bool = False,
    ticks: int = 6,
) -> SafeString:
    """Lines over time: one per `series` = (name, css class, values per label); None breaks the
    line (a snapshot without that figure). The y axis names its lowest and highest value."""
    n = len(labels)
    points = [float(v) for _n, _c, values in series for v in values if v is not None]
    if n < 2 or not points:
        return SafeString("")
    low = 0.0 if zero_based else min(points)
    high = max(points)
    if high == low:  # a flat series is drawn mid-height, not on the axis
        pad = abs(high) * 0.05 or 1.0
        low, high = (low if zero_based else low - pad), high + pad
    span = high - low
    left, bottom = 56, 18
    plot_w, plot_h = width - left - 6, height - bottom - 8
    step = plot_w / (n - 1)

    def y(v: float) -> float:
        return 8 + plot_h - (v - low) / span * plot_h

    parts = []
    for name, css, values in series:
        run: list[str] = []
        for i, v in enumerate([*values, None]):
            if v is not None:
                run.append(f"{left + i * step:.1f},{y(float(v)):.1f}")
                parts.append(
                    format_html(
                        '<circle cx="{}" cy="{}" r="1.5" class="{}"><title>{}: {} {}</title>'
                        "</circle>",
                        f"{left + i * step:.1f}",
                        f"{y(float(v)):.1f}",
                        css,
                        labels[i],
                        label(float(v)),
                        name,
                    )
                )
            elif run:
                parts.append(
                    format_html('<polyline class="fb-line {}" points="{}"/>', css, " ".join(run))
                )
                run = []
    every = max(1, (n - 1) // max(ticks - 1, 1))
    for i in range(0, n, every):
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                f"{left + i * step:.1f}",
                height - 4,
                labels[i],
            )
        )
    axis = format_html(
        '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>'
        '<text x="{}" y="14" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" text-anchor="end">{}</text>',
        left,
        8 + plot_h,
        width - 6,
        8 + plot_h,
        left - 4,
        label(high),
        left - 4,
        8 + plot_h,
        label(low),
    )
    legend = format_html_join(
        "",
        '<span class="{}">{} (last {})</span>',
        (
            (css, name, label(float(last[-1])))
            for name, css, values in series
            if (last := [v for v in values if v is not None])
        ),
    )
    return _svg(width, height, axis, parts, legend)


def _svg(width: int, height: int, axis, parts: list, legend) -> str:
    return format_html(
        '<svg class="fb-chart" viewBox="0 0 {} {}" role="img" preserveAspectRatio="xMinYMin meet">'
        '{}{}</svg><div class="fb-legend">{}</div>',
        width,
        height,
        axis,
        mark_safe("".join(parts)),  # each part escaped by its caller
        legend,
    )
