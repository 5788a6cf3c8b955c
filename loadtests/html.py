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
WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T, PAD_R = 640, 220, 60, 30, 24, 12


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def line_chart(title: str, unit: str, series: Sequence[tuple[str, Sequence[tuple[float, float | None]]]],
               log_x: bool = False) -> str:
    """An SVG line chart: ``series`` is ``(label, [(x, y), ...])``; a None y breaks the line."""
    points = [(x, y) for _, pts in series for x, y in pts if y is not None]
    if not points:
        return ""
    fx = (lambda x: math.log10(max(x, 1e-9))) if log_x else (lambda x: x)
    x_lo, x_hi = min(fx(x) for x, _ in points), max(fx(x) for x, _ in points)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    y_hi = _nice_max(max(y for _, y in points))
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B

    def px(x: float) -> float:
        return PAD_L + (fx(x) - x_lo) / (x_hi - x_lo) * plot_w

    def py(y: float) -> float:
        return PAD_T + plot_h - y / y_hi * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{PAD_L}" y="15" font-size="13" font-weight="bold">{html.escape(title)}</text>',
           f'<rect x="{PAD_L}" y="{PAD_T}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#ccc"/>']
    for i in range(5):
        y = y_hi * i / 4
        out.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eee"/>'
                   f'<text x="{PAD_L - 4}" y="{py(y) + 4:.1f}" font-size="10" text-anchor="end">{y:g}</text>')
    for i in range(5):
        xv = x_lo + (x_hi - x_lo) * i / 4
        label = f"{10 ** xv:.3g}" if log_x else f"{xv:.3g}"
        x = PAD_L + plot_w * i / 4
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - 12}" font-size="10" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{WIDTH - PAD_R}" y="{HEIGHT - 1}" font-size="10" text-anchor="end">'
               f'{html.escape(unit)}</text>')
    for n, (label, pts) in enumerate(series):
        color = COLORS[n % len(COLORS)]
        segments: list[list[str]] = [[]]
        for x, y in pts:
            if y is None:
                segments.append([])
            else:
                segments[-1].append(f"{px(x):.1f},{py(y):.1f}")
        for seg in segments:
            if seg:
                out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{" ".join(seg)}"/>')
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
    keys = ["messages_per_s", "rtt_p50_ms", "rtt_p90_ms", "rtt_p99_ms", "rtt_p99_9_ms", "rtt_max_ms",
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

    for chart in (
        line_chart("messages delivered per second", "seconds", timeline(3)),
        line_chart("round trip p99 (last 5 s), ms", "seconds", timeline(5)),
        line_chart("round trip p50 (last 5 s), ms", "seconds", timeline(4)),
        line_chart("connections", "seconds", timeline(2)),
        line_chart("server CPU, % of one core", "seconds", process(1, "server_process")),
        line_chart("server resident memory, MB", "seconds", process(2, "server_process")),
        line_chart("load generator CPU, % of one core", "seconds", process(1, "generator_process")),
    ):
        if chart:
            parts.append(f"<div>{chart}</div>")
    for name, title in (("rtt", "round trip"), ("start_ack", "chat:start ack"),
                        ("assignment", "chat:start -> assigned"), ("resume", "reconnect -> caught up")):
        series = [(t["label"], _percentile_curve(t["histograms"][name])) for t in targets
                  if name in t.get("histograms", {})]
        if series:
            parts.append("<div>" + line_chart(f"{title}: latency (ms) by percentile (x: 1/(1-p), log; 100 = p99)",
                                              "1/(1-percentile)", series, log_x=True) + "</div>")
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
