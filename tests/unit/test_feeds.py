"""The Atom and JSON feeds of new papers, from tiny inline frames; the Atom read back by feedparser."""

from __future__ import annotations

import datetime as dt
import json

import feedparser
import polars as pl

from paperfeed.model.contracts import PAPERS
from paperfeed.publish.feeds import Added, atom_feed, entry_id, feed_entries, feed_order, json_feed

V1, V2 = "2025-03-14T12:00:00+00:00", "2025-03-15T12:00:00+00:00"


def papers(*rows: tuple[str, str, int | None, list[dict[str, str]]]) -> pl.DataFrame:
    """The columns of `papers` the feeds use, typed as its contract declares."""
    columns = ["paper_id", "title", "abstract", "first_seen", "best_rank", "links"]
    return pl.DataFrame(
        [(pid, title, f"About {title}.", dt.date(2025, 3, 14), rank, links) for pid, title, rank, links in rows],
        schema={c: PAPERS.schema[c] for c in columns},
        orient="row",
    )


PAPERS_SEEN = papers(
    ("a1", "Old paper", 3, []),
    ("b2", "Second <new> & better", 2, [{"url": "https://github.com/x/y", "kind": "code"},
                                        {"url": "https://x.github.io/", "kind": "project_page"}]),
    ("c3", "First new", 1, []),
)
RELEASES = [Added(1, V1, ["a1"]), Added(2, V2, ["b2", "c3", "gone"])]


def test_entries_are_the_newest_releases_papers_first_by_best_rank_and_a_paper_is_listed_once() -> None:
    entries = feed_entries([*RELEASES, Added(3, "2025-03-16T12:00:00+00:00", ["a1"])], PAPERS_SEEN)
    assert [(e["paper_id"], e["version"]) for e in entries] == [("a1", 3), ("c3", 2), ("b2", 2)]  # "gone" has no row
    assert entries[2]["code"] == ["https://github.com/x/y"] and entries[2]["project"] == ["https://x.github.io/"]


def test_entries_stop_at_the_limit() -> None:
    assert [e["paper_id"] for e in feed_entries(RELEASES, PAPERS_SEEN, limit=2)] == ["c3", "b2"]


def test_the_papers_feed_order_picks_are_all_the_entries_need() -> None:
    """A release writes its feeds from the chosen papers alone (a backfill's first release adds
    every paper): the same entries as from every paper, a paper re-listed by a newer release too."""
    many = papers(*((f"p{n:03d}", f"Paper {n}", n % 7 or None, []) for n in range(40)))
    releases = [Added(1, V1, [f"p{n:03d}" for n in range(30)]), Added(2, V2, ["p005", "p031", "p032"])]
    chosen = [paper_id for paper_id, _ in feed_order(releases, many.select("paper_id", "best_rank", "title"), limit=12)]
    assert len(chosen) == 12 and chosen[:3] == ["p031", "p032", "p005"]  # the newest release first, by best rank
    picked = many.filter(pl.col("paper_id").is_in(chosen))
    assert feed_entries(releases, picked, limit=12) == feed_entries(releases, many, limit=12)


def test_the_atom_feed_reads_back_with_feedparser() -> None:
    parsed = feedparser.parse(atom_feed(feed_entries(RELEASES, PAPERS_SEEN), updated=V2))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10" and parsed.feed.updated == V2
    assert [e.id for e in parsed.entries] == [entry_id("c3"), entry_id("b2"), entry_id("a1")]
    second = parsed.entries[1]
    assert second.title == "Second <new> & better" and second.content[0].value == "About Second <new> & better."
    assert second.published == V2 and "best rank 2" in second.summary
    assert [(link.title, link.href) for link in second.links if link.rel == "related"] == [
        ("code", "https://github.com/x/y"), ("project page", "https://x.github.io/")
    ]


def test_the_json_feed_is_json_feed_1_1() -> None:
    document = json.loads(json_feed(feed_entries(RELEASES, PAPERS_SEEN)))
    assert document["version"] == "https://jsonfeed.org/version/1.1" and document["title"]
    items = document["items"]
    assert [i["id"] for i in items] == [entry_id("c3"), entry_id("b2"), entry_id("a1")]
    assert all(i["content_text"] and i["date_published"] for i in items)
    assert items[1]["external_url"] == "https://github.com/x/y" and "external_url" not in items[0]
    assert items[1]["_paperfeed"] == {
        "paper_id": "b2", "dataset_version": 2, "first_seen": "2025-03-14", "best_rank": 2,
        "code": ["https://github.com/x/y"], "project_pages": ["https://x.github.io/"],
    }
