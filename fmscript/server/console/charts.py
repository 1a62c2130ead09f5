"""The job page's loss chart: an SVG drawn on the server from the job's metrics events (no chart library, no
script: the page swaps in a new one while the job runs)."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40
SERIES = (("train_loss", "train"), ("val_loss", "val"))


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def loss_chart(metrics: list[dict], labels: dict[str, str]) -> Markup | None:
    """An SVG of training and validation loss against step; None when no loss has been reported yet.

    ``labels``: the legend's words for ``train_loss`` and ``val_loss`` (the page's language)."""
    points = {key: [(m["step"], float(m[key])) for m in metrics
                    if isinstance(m.get("step"), (int, float)) and isinstance(m.get(key), (int, float))]
              for key, _ in SERIES}
    everything = [p for ps in points.values() for p in ps]
    if not everything:
        return None
    x0, x1 = 0, max(max(s for s, _ in everything), 1)
    lo, hi = min(v for _, v in everything), max(v for _, v in everything)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(step, v):
        return LEFT + (step - x0) / (x1 - x0) * pw, TOP + (hi - v) / (hi - lo) * ph

    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(labels.get("title", "loss"))}">',
             f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>']
    for i in range(5):  # grid and y labels
        v = lo + (hi - lo) * i / 4
        _, y = xy(0, v)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{_fmt(v)}</text>')
    for i in range(5):  # x labels
        s = x0 + (x1 - x0) * i / 4
        x, _ = xy(s, lo)
        parts.append(f'<text x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle" font-size="11">{s:.0f}</text>')
    colours = {"train_loss": "#1f6feb", "val_loss": "#d9480f"}
    for key, cls in SERIES:
        ps = points[key]
        if not ps:
            continue
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(s, v) for s, v in ps))
        parts.append(f'<polyline class="series-{cls}" data-points="{len(ps)}" fill="none" '
                     f'stroke="{colours[key]}" stroke-width="2" points="{coords}"/>')
        if len(ps) == 1:
            x, y = xy(*ps[0])
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colours[key]}"/>')
    lx = LEFT + 8
    for key, _cls in SERIES:
        if points[key]:
            parts.append(f'<rect x="{lx}" y="{HEIGHT - 14}" width="12" height="4" fill="{colours[key]}"/>')
            parts.append(f'<text x="{lx + 16}" y="{HEIGHT - 9}" font-size="11">{escape(labels.get(key, key))}</text>')
            lx += 160
    parts.append("</svg>")
    return Markup("".join(parts))
