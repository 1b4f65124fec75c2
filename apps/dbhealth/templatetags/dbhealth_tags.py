from django import template

register = template.Library()


@register.filter
def pct(value, digits: int = 1) -> str:
    if value is None or value == "":
        return "-"
    return f"{float(value) * 100:.{int(digits)}f} %"


@register.filter
def pct_width(value) -> str:
    """0..1 → a CSS width in percent, clamped."""
    try:
        return f"{max(0.0, min(1.0, float(value))) * 100:.1f}"
    except (TypeError, ValueError):
        return "0"


@register.filter
def seconds(value) -> str:
    if value is None or value == "":
        return "-"
    s = float(value)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


@register.filter
def ms(value) -> str:
    if value is None:
        return "-"
    return seconds(float(value) / 1000)


@register.filter
def intcomma0(value) -> str:
    if value is None or value == "":
        return "-"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)


@register.simple_tag
def bar_chart(values, width: int = 240, height: int = 40, flags=None):
    """Inline SVG bars (values ≥ 0); flags (same length, truthy) are drawn in the error colour."""
    from django.utils.html import format_html, format_html_join

    values = [float(v or 0) for v in (values or [])]
    if not values:
        return ""
    top = max(values) or 1.0
    # A few runs are a few narrow bars, not one block across the chart.
    w = min(width / len(values), 12.0)
    flags = list(flags or [False] * len(values))
    rects = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}</title></rect>',
        (
            (
                f"{i * w + 0.5:.1f}",
                f"{height - max(1.0, v / top * (height - 2)):.1f}",
                f"{max(w - 1, 1):.1f}",
                f"{max(1.0, v / top * (height - 2)):.1f}",
                "bad" if flags[i] else "ok",
                f"{v:,.0f}",
            )
            for i, v in enumerate(values)
        ),
    )
    return format_html(
        '<svg class="dbh-chart" width="{}" height="{}" viewBox="0 0 {} {}" role="img">{}</svg>',
        width,
        height,
        width,
        height,
        rects,
    )


@register.simple_tag
def history_chart(history, width: int = 160, height: int = 24):
    """Failing rows per run of one data-quality check; failed runs (or errors) in red."""
    if not history:
        return ""
    return bar_chart(
        [h["failed_count"] for h in history],
        width,
        height,
        [(not h["passed"]) for h in history],
    )
