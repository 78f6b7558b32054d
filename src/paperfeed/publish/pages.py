"""HTML pages for people: the run report and the release index. Pure functions returning text.

Self-contained: inline CSS and SVG, no scripts, no web fonts, no network; relative links only, so
a page opens the same from disk as behind any static web server. Every value is escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from paperfeed.model.status import FileStatus
from paperfeed.publish.feeds import ATOM_FILE, FEED_ENTRIES, JSON_FILE
from paperfeed.publish.summary import QualityRecord, RunSummary
from paperfeed.quality.findings import Check

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#111;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f8}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.9em}
.accepted{color:#166534}.duplicate{color:#92400e}.rejected,.refused{color:#b91c1c}.waiting{color:#0e7490}.muted{color:#666}
.legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:-.1em}
"""
NEW, RETURNING = "#2563eb", "#93c5fd"


def page(title: str, body: list[str], head: list[str] | None = None) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            *(head or []),
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
            *body,
            "</body></html>",
        ]
    )


def table(headers: list[str] | None, rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """An HTML table; cells are HTML already (escape text before passing it)."""
    numeric = numeric or set()
    head = (
        "<thead><tr>"
        + "".join(f'<th class="n">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>" for i, h in enumerate(headers))
        + "</tr></thead>"
        if headers
        else ""
    )
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def feed_chart(days: list[tuple[str, int, int]]) -> str:
    """Stacked bars per snapshot date: papers new that day, and papers returning."""
    width, height, top, bottom, left = 760, 260, 24, 40, 40
    plot_h = height - top - bottom
    most = max((new + back for _, new, back in days), default=1) or 1
    step = (width - left - 10) / max(len(days), 1)
    bar = min(step * 0.7, 60)
    parts = [
        f'<svg role="img" aria-label="papers per snapshot date, new and returning" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="12">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 5}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for i, (label, new, back) in enumerate(days):
        x = left + i * step + (step - bar) / 2
        new_h, back_h = plot_h * new / most, plot_h * back / most
        y_back = top + plot_h - back_h
        y_new = y_back - new_h
        parts += [
            f'<rect class="returning" x="{x:.1f}" y="{y_back:.1f}" width="{bar:.1f}" height="{back_h:.1f}" fill="{RETURNING}">'
            f"<title>{escape(label)}: {back} returning</title></rect>",
            f'<rect class="new" x="{x:.1f}" y="{y_new:.1f}" width="{bar:.1f}" height="{new_h:.1f}" fill="{NEW}">'
            f"<title>{escape(label)}: {new} new</title></rect>",
            f'<text x="{x + bar / 2:.1f}" y="{y_new - 5:.1f}" text-anchor="middle">{new + back}</text>',
            f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle">{escape(label)}</text>',
        ]
    parts.append("</svg>")
    legend = f'<p class="legend">papers per snapshot date:<span style="background:{NEW}"></span>new<span style="background:{RETURNING}"></span>returning</p>'
    return legend + "".join(parts)


def run_report(summary: RunSummary, days: list[tuple[str, int, int]], links: dict[str, str]) -> str:
    """The report of one run: what happened, what came in, and the feed over time."""
    counts = [
        ["dataset version", escape(str(summary.dataset_version or "—"))],
        ["status", escape(summary.status)],
        *[[f"snapshots {s}", str(summary.count(s))] for s in FileStatus],
        ["records set aside", str(summary.n_quarantined)],
        ["papers new / updated / in total", f"{summary.n_new_papers} / {summary.n_updated_papers} / {summary.n_papers}"],
        ["appearances", str(summary.n_appearances)],
        ["matching: joined / papers merged / pairs for review", f"{summary.n_matched} / {summary.n_merged_papers} / {summary.n_candidates}"],
    ]
    matches = [
        [escape(m.decision), escape(m.rule), escape(m.title_key), escape(m.other_title_key), f"{m.title_score:.2f}",
         "—" if m.abstract_score is None else f"{m.abstract_score:.2f}"]
        for m in summary.matches
    ]  # fmt: skip
    files = [
        [
            f"<code>{escape(o.source_name)}</code>",
            f'<span class="{escape(o.status.split()[0])}">{escape(o.status)}</span>',
            escape(o.snapshot_date or ""),
            str(o.n_records),
            str(o.n_quarantined or ""),
            escape(o.reason or ""),
        ]
        for o in summary.outcomes
    ]
    problems = "".join(f'<p class="rejected">problem: {escape(p)}</p>' for p in summary.problems)
    link_items = "".join(f'<li><a href="{escape(href)}">{escape(text)}</a></li>' for text, href in links.items())
    return page(
        f"paperfeed run {summary.run_id}",
        [
            f"<h1>paperfeed run <code>{escape(summary.run_id)}</code></h1>",
            f"<p><strong>{escape(summary.message)}</strong></p>",
            problems,
            table(None, counts, numeric={1}),
            "<h2>The feed over time</h2>",
            feed_chart(days),
            "<h2>Files in this run</h2>",
            table(["file", "status", "date", "records", "set aside", "reason"], files, numeric={3, 4})
            if files
            else '<p class="muted">No files.</p>',
            "<h2>Entity resolution</h2>",
            table(["decision", "rule", "title", "other title", "title score", "abstract score"], matches, numeric={4, 5})
            + (f'<p class="muted">{escape(summary.matches_not_listed())}</p>' if summary.matches_not_listed() else "")
            if matches
            else '<p class="muted">Every record was a paper seen before under the same title and abstract, or a new paper.</p>',
            "<h2>Data quality</h2>",
            quality_section(summary.checks),
            f"<h2>More</h2><ul>{link_items}</ul>" if link_items else "",
        ],
    )


def quality_section(checks: list[Check]) -> str:
    """The publish gate's checks, per suite: how many passed, and what failed."""
    if not checks:
        return '<p class="muted">No checks ran: nothing new to publish.</p>'
    suites: dict[str, list[Check]] = {}
    for check in checks:
        suites.setdefault(check.suite, []).append(check)
    rows = [
        [
            f"<code>{escape(suite)}</code>",
            str(len(group)),
            str(QualityRecord(group).passed),
            "<br>".join(
                f'<span class="rejected">{escape(c.description)}</span> '
                f'<span class="muted">({escape(c.expectation)}({escape(c.column or "table")}): '
                + (f"{c.unexpected} rows" if c.unexpected is not None else f"observed {escape(str(c.observed))}")
                + ")</span>"
                for c in group
                if not c.success
            ),
        ]
        for suite, group in suites.items()
    ]
    record = QualityRecord(checks)
    return (
        f"<p>{record.passed} of {record.evaluated} checks of the publish gate passed (Great Expectations suites in "
        "<code>expectations/</code>).</p>" + table(["suite", "checks", "passed", "failed"], rows, numeric={1, 2})
    )


def release_index(summaries: list[dict[str, Any]]) -> str:
    """All releases (their release_summary), newest first: per table its rows, files and size,
    with download links; each file's sha256 is in the release's manifest.json and SHA256SUMS."""
    body = [
        "<h1>paperfeed releases</h1>",
        "<p>Each release is one dataset version: a folder of zstd Parquet files per table, the paper_ids "
        "that changed, a dataset card, <code>SHA256SUMS</code> and a <code>manifest.json</code> with every "
        "file's rows, bytes and sha256. Read every version at once, with its number as a column: "
        "<code>pl.scan_parquet(\"releases/version=*/papers/*.parquet\", hive_partitioning=True)</code>.</p>",
        f'<p id="feeds">The papers new in each version, to subscribe to: <a href="{ATOM_FILE}">Atom feed</a> · '
        f'<a href="{JSON_FILE}">JSON Feed</a> (the newest {FEED_ENTRIES}).</p>',
    ]
    for m in sorted(summaries, key=lambda m: m["version"], reverse=True):
        name = m["release"]
        rows = [
            [
                f'<a href="{escape(name)}/{escape(table)}/">{escape(table)}</a>',
                f"{total['rows']:,}",
                str(total["files"]),
                _size(total["bytes"]),
            ]
            for table, total in m["tables"].items()
        ]
        changes = m["changes"]
        links = " · ".join(
            f'<a href="{escape(name)}/{escape(path)}">{escape(label)}</a>'
            for path, label in (("manifest.json", "manifest.json"), ("SHA256SUMS", "SHA256SUMS"), ("README.md", "dataset card"))
        )
        body += [
            f'<h2 id="{escape(name)}">{escape(name)} <span class="muted">· created {escape(m["created"])} · {links}</span></h2>',
            f"<p>{changes['added']} papers added, {changes['updated']} updated"
            + (f" since version {changes['previous_version']}." if changes["previous_version"] else " (first release).")
            + _quality_note(m.get("quality"))
            + "</p>",
            table(["table", "rows", "files", "size"], rows, numeric={1, 2, 3}),
        ]
    feeds = [
        f'<link rel="alternate" type="application/atom+xml" title="paperfeed: new papers" href="{ATOM_FILE}">',
        f'<link rel="alternate" type="application/feed+json" title="paperfeed: new papers" href="{JSON_FILE}">',
    ]
    return page("paperfeed releases", body, head=feeds)


def _quality_note(record: dict[str, Any] | None) -> str:
    if not record or not record["evaluated"]:
        return ""
    return f' Data quality: <span class="accepted">{record["passed"]} of {record["evaluated"]} checks passed</span>.'


def _size(n: int) -> str:
    if n < 1000:
        return f"{n:,} B"
    size = float(n)
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:,.1f} {unit}"
