"""A self-contained HTML page for a chat scenario's JSON report: tables and inline SVG plots
(no scripts, no CDN), written beside the JSON report."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

from .histogram import LogHistogram

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T, PAD_R = 680, 260, 64, 46, 24, 12
TIME_AXIS = "seconds from the start of the run"
# The percentile curves' x axis: 1/(1-p) on a log scale, labelled with the percentile.
PERCENTILE_TICKS = ((2.0, "p50"), (10.0, "p90"), (100.0, "p99"), (1000.0, "p99.9"), (10000.0, "p99.99"))


def _nice_step(span: float, count: int = 5) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) that cuts ``span`` into about ``count``."""
    raw = span / count if span > 0 else 1.0
    exp = 10.0 ** math.floor(math.log10(raw))
    return next(step * exp for step in (1, 2, 2.5, 5, 10) if raw <= step * exp)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


Series = Sequence[tuple[str, Sequence[tuple[float, float | None]]]]
# Where each target's phases began: (label of the target, [(t, phase), ...]).
Phases = Sequence[tuple[str, Sequence[tuple[float, str]]]]


def line_chart(title: str, y_label: str, series: Series, *, x_label: str = TIME_AXIS, log_x: bool = False,
               x_ticks: Sequence[tuple[float, str]] | None = None, phases: Phases = ()) -> str:
    """An SVG line chart: ``series`` is ``(label, [(x, y), ...])``; a None y breaks the line.
    ``phases`` draws a dashed line where each phase began (in its target's colour) and shades the
    measured window. Each line carries its points as ``data-points`` (``x,y`` in the data's units)."""
    points = [(x, y) for _, pts in series for x, y in pts if y is not None]
    if not points:
        return ""
    fx = (lambda x: math.log10(max(x, 1e-9))) if log_x else (lambda x: x)
    xs = [x for x, _ in points] + [t for _, marks in phases for t, _ in marks]
    x_lo, x_hi = min(fx(x) for x in xs), max(fx(x) for x in xs)
    if not log_x:
        x_lo = min(x_lo, 0.0)  # time from the start of the run
    if x_hi == x_lo:
        x_hi = x_lo + 1
    y_hi = _nice_max(max(y for _, y in points))
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    colors = {label: COLORS[n % len(COLORS)] for n, (label, _) in enumerate(series)}

    def px(x: float) -> float:
        return PAD_L + (fx(x) - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        return PAD_T + plot_h - y / y_hi * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{PAD_L}" y="15" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for n, (label, marks) in enumerate(phases):
        color = colors.get(label, COLORS[n % len(COLORS)])
        for i, (t, phase) in enumerate(marks):
            if phase == "measure":  # the measured window: until the next phase began
                end = marks[i + 1][0] if i + 1 < len(marks) else x_hi
                out.append(f'<rect class="measured" x="{px(t):.1f}" y="{PAD_T}" width="{max(px(end) - px(t), 0):.1f}" '
                           f'height="{plot_h}" fill="{color}" fill-opacity="0.06"/>')
    out.append(f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>')
    for i in range(5):
        y = y_hi * i / 4
        out.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eee"/>'
                   f'<text x="{PAD_L - 4}" y="{py(y) + 4:.1f}" font-size="10" text-anchor="end">{y:g}</text>')
    if x_ticks is None:
        step = _nice_step(x_hi - x_lo)
        first = math.ceil(x_lo / step) * step
        x_ticks = [(first + k * step, f"{first + k * step:g}")
                   for k in range(int((x_hi - first) / step + 1e-9) + 1)]
    for value, label in x_ticks:
        if x_lo - 1e-9 <= fx(value) <= x_hi + 1e-9:
            out.append(f'<line x1="{px(value):.1f}" x2="{px(value):.1f}" y1="{PAD_T + plot_h}" '
                       f'y2="{PAD_T + plot_h + 4}" stroke="#888"/>'
                       f'<text x="{px(value):.1f}" y="{PAD_T + plot_h + 15}" font-size="10" '
                       f'text-anchor="middle">{html.escape(label)}</text>')
    out.append(f'<text class="x-label" x="{PAD_L + plot_w / 2:.1f}" y="{HEIGHT - 6}" font-size="11" '
               f'text-anchor="middle">{html.escape(x_label)}</text>')
    out.append(f'<text class="y-label" transform="translate(14 {PAD_T + plot_h / 2:.1f}) rotate(-90)" '
               f'font-size="11" text-anchor="middle">{html.escape(y_label)}</text>')
    for n, (label, marks) in enumerate(phases):
        color = colors.get(label, COLORS[n % len(COLORS)])
        for i, (t, phase) in enumerate(marks):
            x = px(t)
            # Phases a moment apart (agents, chat_start, warmup) get their names at staggered heights.
            label_y = PAD_T + plot_h - 4 - 10 * (i % 3) - 30 * n
            near_left = x < PAD_L + plot_w - 40  # else the name goes left of its line, inside the plot
            out.append(f'<line class="phase" data-target="{html.escape(label)}" data-phase="{html.escape(phase)}" '
                       f'data-t="{t:g}" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{PAD_T + plot_h}" '
                       f'stroke="{color}" stroke-dasharray="3 3" stroke-opacity="0.7"/>'
                       f'<text x="{x + 2 if near_left else x - 2:.1f}" y="{label_y:.1f}" font-size="9" fill="{color}" '
                       f'text-anchor="{"start" if near_left else "end"}">'
                       f'{html.escape(phase)}</text>')
    for n, (label, pts) in enumerate(series):
        color = colors[label]
        segments: list[list[tuple[float, float]]] = [[]]
        for x, maybe_y in pts:
            if maybe_y is None:
                segments.append([])
            else:
                segments[-1].append((x, maybe_y))
        for seg in segments:
            if seg:
                drawn = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in seg)
                data = " ".join(f"{x:g},{y:g}" for x, y in seg)
                out.append(f'<polyline data-series="{html.escape(label)}" data-points="{data}" fill="none" '
                           f'stroke="{color}" stroke-width="1.5" points="{drawn}"/>')
        out.append(f'<text x="{PAD_L + 8 + 150 * n}" y="{PAD_T + 14}" font-size="11" fill="{color}">'
                   f'{html.escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _percentile_curve(hist_data: dict[str, Any]) -> list[tuple[float, float | None]]:
    """Latency at percentiles from 1 to 99.99 (x: the percentile, shown as 1/(1-p) on a log axis)."""
    hist = LogHistogram.from_generator(hist_data)
    curve = []
    for q in (1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99):
        value = hist.percentile(q)
        curve.append((1 / (1 - q / 100), value))
    return curve


def _table(rows: Sequence[Sequence[Any]], head: Sequence[str]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('-' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def render(report: dict[str, Any]) -> str:
    targets = report.get("targets", [])
    parts = [f"<h1>chatserver load test: {html.escape(report.get('scenario', ''))}</h1>",
             f"<p>{html.escape(report.get('measures', ''))}</p>",
             f"<p>started {html.escape(report.get('started_at', ''))}; command "
             f"<code>{html.escape(' '.join(report.get('command', [])))}</code></p>"]
    env = report.get("environment", {})
    parts.append(f"<p>load average before {env.get('before', {}).get('loadavg')}, after "
                 f"{env.get('after', {}).get('loadavg')} on {env.get('before', {}).get('cpu_count')} CPUs; "
                 f"chatserver commit {html.escape(str(report.get('server_source', {}).get('git_commit')))}"
                 f"{' (uncommitted changes)' if report.get('server_source', {}).get('uncommitted_changes') else ''}"
                 "</p>")
    slo = report.get("slo", {})
    if slo.get("results"):
        parts.append("<h2>Service-level objectives: " + ("PASS" if slo.get("passed") else "FAIL") + "</h2>")
        parts.append(_table([[r["objective"], r["value"], "pass" if r["passed"] else "FAIL"] for r in slo["results"]],
                            ["objective", "value", "result"]))
    thresholds = report.get("thresholds", {})
    if thresholds.get("results"):
        parts.append("<h2>Default thresholds: " + ("PASS" if thresholds.get("passed") else "FAIL") + "</h2>")
        parts.append(_table([[r["objective"], r["value"], "pass" if r["passed"] else "FAIL"]
                             for r in thresholds["results"]], ["threshold", "value", "result"]))
    keys = ["messages_per_s", "messages_per_s_per_core", "rtt_p50_ms", "rtt_p90_ms", "rtt_p99_ms", "rtt_p99_9_ms",
            "rtt_max_ms", "batches_per_s", "batches_per_s_per_core", "events_per_s", "events_per_s_per_core",
            "relay_p50_ms", "relay_p90_ms", "relay_p99_ms", "relay_p99_9_ms", "relay_max_ms", "batches_lost",
            "batches_duplicated", "batches_out_of_order", "batches_incomplete", "cobrowse_start_p50_ms",
            "cobrowse_start_p99_ms",
            "start_ack_p50_ms", "start_ack_p99_ms", "assignment_p50_ms", "assignment_p99_ms", "resume_p50_ms",
            "resume_p99_ms", "duplicates", "lost", "connections", "rss_per_connection_kb", "server_cpu_percent_mean",
            "server_rss_mb_max", "generator_cpu_percent_mean", "errors"]
    metrics = [t["metrics"] for t in targets]
    present = [k for k in keys if any(m.get(k) is not None for m in metrics)]
    parts.append("<h2>Results</h2>")
    parts.append(_table([[k, *(m.get(k) for m in metrics)] for k in present],
                        ["metric", *(t["label"] for t in targets)]))
    ratios = {k: v for k, v in report.get("metrics", {}).items() if "_ratio_to_" in k}
    if ratios:
        parts.append("<h3>chatserver / reference (same run, same generator)</h3>")
        parts.append(_table(sorted(ratios.items()), ["ratio", "value"]))
    errors = sorted({kind for t in targets for kind in t.get("errors", {})})
    parts.append("<h2>Errors by kind</h2>")
    parts.append(_table([[kind, *(t.get("errors", {}).get(kind, 0) for t in targets)] for kind in errors],
                        ["kind", *(t["label"] for t in targets)]) if errors else "<p>none</p>")
    parts.append("<h2>Over time</h2>")

    def timeline(column: int) -> list[tuple[str, list[tuple[float, float | None]]]]:
        return [(t["label"], [(row[0], row[column]) for row in t["timeline"]["rows"]]) for t in targets]

    def process(column: int, key: str) -> list[tuple[str, list[tuple[float, float | None]]]]:
        return [(t["label"], [(row[0], row[column]) for row in t[key]["rows"]]) for t in targets if t[key]["rows"]]

    phases: Phases = [(t["label"], [(float(p[0]), str(p[1])) for p in t.get("phases", [])]) for t in targets]
    cobrowse = any("relay" in t.get("histograms", {}) for t in targets)
    latency, unit = ("relay latency", "batches") if cobrowse else ("round trip", "messages")
    for chart in (
        line_chart(f"{unit} delivered per second", f"{unit}/s", timeline(3), phases=phases),
        line_chart(f"{latency} p99 of each second", "ms", timeline(5), phases=phases),
        line_chart(f"{latency} p50 of each second", "ms", timeline(4), phases=phases),
        line_chart("open connections", "connections", timeline(2), phases=phases),
        line_chart("server CPU", "% of one core", process(1, "server_process"), phases=phases),
        line_chart("server resident memory", "MB", process(2, "server_process"), phases=phases),
        line_chart("load generator CPU", "% of one core", process(1, "generator_process"), phases=phases),
    ):
        if chart:
            parts.append(f"<div>{chart}</div>")
    for name, title in (("rtt", "round trip"), ("start_ack", "chat:start ack"),
                        ("assignment", "chat:start -> assigned"), ("resume", "reconnect -> caught up"),
                        ("relay", "co-browse relay"), ("cobrowse_start", "co-browse request -> joined")):
        series = [(t["label"], _percentile_curve(t["histograms"][name])) for t in targets
                  if name in t.get("histograms", {})]
        if series:
            parts.append("<div>" + line_chart(f"{title}: latency by percentile", "ms", series,
                                              x_label="percentile (log scale of 1/(1 - p))", log_x=True,
                                              x_ticks=PERCENTILE_TICKS) + "</div>")
    parts.append("<h2>Phases</h2>")
    parts.append(_table([[t["label"], ", ".join(f"{p[1]} at {p[0]:g} s" for p in t.get("phases", []))]
                         for t in targets], ["target", "phases"]))
    parts.append("<details><summary>configuration</summary><pre>"
                 + html.escape(json.dumps(report.get("config"), indent=2)) + "</pre></details>")
    style = ("body{font-family:sans-serif;max-width:900px;margin:1em auto;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
             "text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}")
    title = html.escape(report.get("scenario", ""))
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>load test {title}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


__all__ = ["line_chart", "render"]
