"""Feeds people can subscribe to: the papers new in each published version, newest version first,
as an Atom feed (RFC 4287) and a JSON Feed (jsonfeed.org, version 1.1). Pure; storage/releases.py
writes them next to the release index.

An entry is one paper in the version that added it: its id is stable (from `paper_id`), so a
reader never sees a paper twice, and the feeds keep the newest FEED_ENTRIES entries.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import polars as pl

FEED_ENTRIES = 100
ATOM_FILE, JSON_FILE = "feed.atom", "feed.json"
TITLE = "paperfeed: papers new on the Hugging Face trending-papers feed"
ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class Added:
    """What one release added: its version, when that version was published (ISO 8601; the same
    when its release is written again), the papers' ids."""

    version: int
    published: str
    paper_ids: list[str]


def entry_id(paper_id: str) -> str:
    """A paper's entry id, the same in every feed and every version."""
    return f"urn:paperfeed:paper:{paper_id}"


def feed_order(added: list[Added], ranks: pl.DataFrame, limit: int = FEED_ENTRIES) -> list[tuple[str, Added]]:
    """The papers of the newest `limit` entries, each with the release it is listed under: each
    release's new papers (newest release first; within one, by best rank, then title). ranks:
    paper_id, best_rank, title (of papers; a paper not among them has no entry)."""
    chosen: list[tuple[str, Added]] = []
    seen: set[str] = set()  # an entry id appears once, in the newest release that added the paper
    for release in sorted(added, key=lambda a: a.version, reverse=True):
        new = ranks.filter(pl.col("paper_id").is_in(release.paper_ids)).sort("best_rank", "title", nulls_last=True)
        for paper_id in new["paper_id"].to_list():
            if paper_id in seen:
                continue
            seen.add(paper_id)
            chosen.append((paper_id, release))
            if len(chosen) == limit:
                return chosen
    return chosen


def feed_entries(added: list[Added], papers: pl.DataFrame, limit: int = FEED_ENTRIES) -> list[dict[str, Any]]:
    """The newest `limit` entries (feed_order), with what `papers` says of them."""
    order = feed_order(added, papers, limit)
    chosen = papers.filter(pl.col("paper_id").is_in([paper_id for paper_id, _ in order]))
    known = chosen.select("paper_id", "title", "abstract", "first_seen", "best_rank", code=_urls("code"), project=_urls("project_page"))
    rows = {row["paper_id"]: row for row in known.iter_rows(named=True)}
    return [rows[paper_id] | {"version": release.version, "published": release.published} for paper_id, release in order]


def _urls(kind: str) -> pl.Expr:
    """The URLs of a paper's links of one kind (prepare/links.py names the kinds)."""
    link = pl.element()
    return pl.col("links").list.eval(link.filter(link.struct.field("kind") == kind).struct.field("url"))


def atom_feed(entries: list[dict[str, Any]], updated: str) -> str:
    """The entries as an Atom feed; `updated` is when the newest version was published."""
    ET.register_namespace("", ATOM_NS)

    def add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attributes)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    add(feed, "id", "urn:paperfeed:feed")
    add(feed, "title", TITLE)
    add(feed, "updated", updated)
    add(feed, "link", rel="alternate", type="text/html", href="index.html")
    add(feed, "link", rel="self", type="application/atom+xml", href=ATOM_FILE)
    add(add(feed, "author"), "name", "paperfeed")
    for entry in entries:
        item = add(feed, "entry")
        add(item, "id", entry_id(entry["paper_id"]))
        add(item, "title", entry["title"])
        add(item, "published", entry["published"])
        add(item, "updated", entry["published"])
        add(item, "summary", _summary(entry))
        add(item, "content", entry["abstract"], type="text")
        for url in entry["code"]:
            add(item, "link", rel="related", title="code", href=url)
        for url in entry["project"]:
            add(item, "link", rel="related", title="project page", href=url)
        add(item, "category", term=f"version-{entry['version']}", label=f"new in dataset version {entry['version']}")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def json_feed(entries: list[dict[str, Any]]) -> str:
    """The entries as a JSON Feed 1.1 (paperfeed's own fields under `_paperfeed`, as the spec asks)."""
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": TITLE,
        "description": "Each published dataset version's new papers, newest first.",
        "items": [
            {
                "id": entry_id(entry["paper_id"]),
                "title": entry["title"],
                "summary": _summary(entry),
                "content_text": entry["abstract"],
                "date_published": entry["published"],
                **({"external_url": entry["code"][0]} if entry["code"] else {}),
                "tags": [f"version-{entry['version']}"],
                "_paperfeed": {
                    "paper_id": entry["paper_id"],
                    "dataset_version": entry["version"],
                    "first_seen": entry["first_seen"].isoformat() if entry["first_seen"] else None,
                    "best_rank": entry["best_rank"],
                    "code": entry["code"],
                    "project_pages": entry["project"],
                },
            }
            for entry in entries
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _summary(entry: dict[str, Any]) -> str:
    rank = f", best rank {entry['best_rank']}" if entry["best_rank"] is not None else ""
    return f"New in dataset version {entry['version']}: first seen {entry['first_seen']}{rank}."
