"""Bar charts drawn on the server as SVG: Chinese labels, the domain's order.

Replaces datasette-vega, which sorts an ordinal axis alphabetically (A, A+,
B … instead of A+ … G), shows English legends, needs ``unsafe-eval`` in the
Content-Security-Policy and draws nothing without JavaScript. An SVG is a few
kilobytes, prints, and scales to a phone's width.
"""

from markupsafe import Markup, escape

from . import labels

PALETTE = ["#3b6ea5", "#e07b39", "#4f9a5a", "#b8474c", "#7d64a8", "#8c6d52", "#d17fb5", "#7a7a7a",
           "#b5a530", "#3aa5b5"]


def _order(values, axis):
    seen = list(dict.fromkeys(values))
    if axis in ("类别", "class", "new_class", "old_class", "原类别", "新类别"):
        return sorted(seen, key=labels.class_key)
    if axis == "变动":
        # "A → A+": by the class moved to, then from.
        def key(v):
            old, _, new = str(v).partition(" → ")
            return (labels.class_key(new), labels.class_key(old))
        return sorted(seen, key=key)
    return seen


def _label(axis, value):
    if value is None or value == "":
        return "(空)"
    return labels.enum_label(axis, value) or str(value)


def _nice_step(raw):
    """The smallest of 1, 2, 2.5, 5 × 10^n at least ``raw`` (at least 1: counts are whole)."""
    if raw <= 1:
        return 1
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def bar_chart(rows, x, y, color=None, *, title=""):
    """SVG of ``y`` summed per ``x`` (stacked by ``color``) from dict rows; None when empty."""
    totals, series = {}, []
    for row in rows:
        xv, cv = row.get(x), (row.get(color) if color else None)
        try:
            yv = float(row.get(y) or 0)
        except (TypeError, ValueError):
            continue
        totals.setdefault(xv, {})
        totals[xv][cv] = totals[xv].get(cv, 0) + yv
        if cv not in series:
            series.append(cv)
    if not totals:
        return None
    xs = _order(list(totals), x)
    series = _order(series, color) if color else [None]
    # Grid lines at whole, evenly spaced values: four steps of a rounded-up size.
    highest = max(sum(v.values()) for v in totals.values()) or 1
    step = _nice_step(highest / 4)
    peak = step * 4
    bar, gap, left, top, height = 34, 14, 56, 24, 220
    width = left + len(xs) * (bar + gap) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="bc-svg" viewBox="0 0 {width} {top + height + 64}"'
             f' role="img" aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">']
    for i in range(5):  # grid lines and their values
        value = peak * i / 4
        yy = top + height - height * i / 4
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{width - 10}" y2="{yy:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11">{value:,.0f}</text>')
    for i, xv in enumerate(xs):
        x0 = left + gap / 2 + i * (bar + gap)
        base = top + height
        for j, cv in enumerate(series):
            v = totals[xv].get(cv, 0)
            if not v:
                continue
            h = height * v / peak
            base -= h
            name = _label(x, xv) + (f" · {_label(color, cv)}" if color else "")
            parts.append(f'<rect x="{x0:.1f}" y="{base:.1f}" width="{bar}" height="{h:.1f}" '
                         f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(name)}: {v:,.0f}</title></rect>')
        total = sum(totals[xv].values())
        parts.append(f'<text x="{x0 + bar / 2:.1f}" y="{base - 4:.1f}" text-anchor="middle" font-size="11">'
                     f'{total:,.0f}</text>')
        parts.append(f'<text x="{x0 + bar / 2:.1f}" y="{top + height + 16}" text-anchor="middle" font-size="12">'
                     f'{escape(_label(x, xv))}</text>')
    if color:
        lx = left
        for j, cv in enumerate(series):
            name = _label(color, cv)
            parts.append(f'<rect x="{lx}" y="{top + height + 34}" width="12" height="12" '
                         f'fill="{PALETTE[j % len(PALETTE)]}"/>')
            parts.append(f'<text x="{lx + 16}" y="{top + height + 45}" font-size="12">{escape(name)}</text>')
            lx += 28 + 13 * len(name)
    parts.append(f'<text x="{left}" y="14" font-size="12" fill="#555">{escape(y)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
