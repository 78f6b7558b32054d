"""The analysts' views (model/views.py) on tiny tables: each formula, by hand."""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import polars as pl
import pytest

from paperfeed.curate.match import title_rows
from paperfeed.model.contracts import PAPER_TITLES
from paperfeed.model.views import (
    CODE_LINKS,
    PAPER_ALIASES,
    PAPER_STATS,
    RANK_HISTORY,
    TRENDING_HALF_LIFE_DAYS,
    VIEWS,
    ViewContract,
)
from paperfeed.prepare.identify import stable_hash
from paperfeed.storage.duckdb import sql_type

LINKS = pl.List(pl.Struct({"url": pl.String, "kind": pl.String}))
D = {day: dt.date(2025, 3, day) for day in (10, 11, 14, 15, 16)}  # the feed's snapshot dates: none on the 12th and 13th
# (paper, day, rank): X misses the 14th; Y is on 11, 14, 15 (consecutive snapshot dates); Z twice on the 15th.
SIGHTINGS = [
    ("X", 10, 3), ("X", 11, 1), ("X", 15, 7), ("X", 16, 2),
    ("Y", 11, 5), ("Y", 14, 4), ("Y", 15, 9),
    ("Z", 15, 6), ("Z", 15, 2), ("W", 14, 1), ("W", 16, 1),
]  # fmt: skip


# X appeared with another spelling of its title on the 15th and 16th.
TITLES = {("X", 15): "x, revised", ("X", 16): "x, revised"}


def connection(papers: pl.DataFrame | None = None) -> duckdb.DuckDBPyConnection:
    appearances = pl.DataFrame(
        [(p, D[d], r, TITLES.get((p, d), p.lower())) for p, d, r in SIGHTINGS],
        schema={"paper_id": pl.String, "snapshot_date": pl.Date, "rank": pl.Int64, "title": pl.String},
        orient="row",
    )
    if papers is None:
        papers = pl.DataFrame(
            {"paper_id": ["X", "Y", "Z", "W"], "title": ["Ex", "Why", "Zed", "Double"], "links": [[]] * 4},
            schema={"paper_id": pl.String, "title": pl.String, "links": LINKS},
        )
    con = duckdb.connect()
    con.register("appearances", appearances)
    con.register("papers", papers)
    sightings = appearances.sort("snapshot_date", "rank").with_columns(snapshot_id=pl.col("snapshot_date").cast(pl.String), abstract_hash=pl.lit("h"))
    con.register("paper_titles", title_rows(sightings))
    for view in VIEWS:
        con.execute(f"CREATE VIEW {view.name} AS {view.sql}")
    return con


def stats() -> dict[str, dict[str, object]]:
    con = connection()
    return {row["paper_id"]: row for row in con.sql("SELECT * FROM paper_stats").pl().to_dicts()}


def test_rank_history_is_a_papers_best_rank_per_date() -> None:
    rows = connection().sql("SELECT paper_id, snapshot_date, rank, sightings FROM rank_history WHERE paper_id = 'Z'").fetchall()
    assert rows == [("Z", D[15], 2, 2)]


def test_days_on_the_feed_count_calendar_days_and_dates_count_snapshot_dates() -> None:
    x = stats()["X"]
    assert (x["first_seen"], x["last_seen"], x["days_on_feed"], x["n_dates"]) == (D[10], D[16], 7, 4)


def test_a_streak_runs_over_the_feeds_snapshot_dates_and_a_missed_one_breaks_it() -> None:
    found = stats()
    assert found["X"]["longest_streak"] == 2  # 10-11, then 15-16: it missed the 14th
    assert found["Y"]["longest_streak"] == 3  # 11, 14, 15: nobody captured the 12th or 13th
    assert found["W"]["longest_streak"] == 1  # 14 and 16: it missed the 15th


def test_best_median_and_last_rank() -> None:
    x, z = stats()["X"], stats()["Z"]
    assert (x["best_rank"], x["median_rank"], x["last_rank"]) == (1, 2.5, 2)
    assert (z["best_rank"], z["median_rank"], z["last_rank"]) == (2, 2.0, 2)  # its best of the two on the 15th


def test_the_trending_score_is_the_documented_rank_weighted_time_decayed_sum() -> None:
    def weight(rank: int, day: int) -> float:
        return 1 / math.log2(1 + rank) * 0.5 ** ((16 - day) / TRENDING_HALF_LIFE_DAYS)

    found = stats()
    assert found["X"]["trending_score"] == pytest.approx(weight(3, 10) + weight(1, 11) + weight(7, 15) + weight(2, 16))
    assert found["W"]["trending_score"] == pytest.approx(weight(1, 14) + 1.0)
    assert weight(1, 16) == 1 and weight(3, 16) == 0.5 and weight(15, 16) == 0.25  # as the module's doc says
    # W (rank 1, two and zero days old) edges out X (four dates, ranks 3, 1, 7, 2): 1.820 against 1.818.
    order = [r[0] for r in connection().sql("SELECT paper_id FROM paper_stats ORDER BY trending_score DESC").fetchall()]
    assert order == ["W", "X", "Y", "Z"]


def test_code_links_name_the_repository_and_flag_a_link_that_names_none() -> None:
    papers = pl.DataFrame(
        {
            "paper_id": ["X", "Y"],
            "title": ["Ex", "Why"],
            "links": [
                [
                    {"url": "https://github.com/OpenRobotLab/Seer/", "kind": "code"},
                    {"url": "https://www.github.com/owner/repo.git", "kind": "code"},
                    {"url": "https://gitlab.com/group/project/-/tree/main", "kind": "code"},
                    {"url": "https://huggingface.co/datasets/a/b", "kind": "huggingface_dataset"},
                ],
                [{"url": "https://github.com/anonymous", "kind": "code"}, {"url": "https://bitbucket.org/team/tool", "kind": "code"}],
            ],
        },
        schema={"paper_id": pl.String, "title": pl.String, "links": LINKS},
    )
    rows = connection(papers).sql("SELECT * FROM code_links ORDER BY paper_id, url").fetchall()
    assert rows == [
        ("X", "https://github.com/OpenRobotLab/Seer/", "github.com", "OpenRobotLab", "Seer", False),
        ("X", "https://gitlab.com/group/project/-/tree/main", "gitlab.com", "group", "project", False),
        ("X", "https://www.github.com/owner/repo.git", "github.com", "owner", "repo", False),
        ("Y", "https://bitbucket.org/team/tool", "bitbucket.org", "team", "tool", False),
        ("Y", "https://github.com/anonymous", "github.com", None, None, True),  # kept, and flagged
    ]


def test_paper_titles_lists_each_title_a_paper_had_with_when() -> None:
    """paper_titles is a table (curate/match.py::title_rows); the views look papers up through it."""
    rows = connection().sql("SELECT title, first_seen, last_seen, times_seen FROM paper_titles WHERE paper_id = 'X' ORDER BY first_seen").fetchall()
    assert rows == [("x", D[10], D[11], 2), ("x, revised", D[15], D[16], 2)]
    found = connection().sql("SELECT DISTINCT paper_id FROM paper_titles WHERE title = 'x, revised'").fetchall()
    assert found == [("X",)]  # looked up by a title it no longer has


def test_paper_aliases_are_the_ids_of_other_titles_that_name_one_paper_and_no_paper() -> None:
    a, b = stable_hash("a"), stable_hash("b")
    titles = PAPER_TITLES.conform(
        pl.DataFrame(
            [(a, "a"), (a, "a two"), (a, "c"), (b, "b"), (b, "a"), (b, "c")], schema=["paper_id", "title_key"], orient="row"
        ).with_columns(
            title=pl.col("title_key"), title_id=pl.col("title_key").map_elements(stable_hash, return_dtype=pl.String),
            first_seen=pl.lit(D[10]), last_seen=pl.lit(D[10]), times_seen=pl.lit(1),
        )
    )  # fmt: skip
    con = duckdb.connect()
    con.register("papers", pl.DataFrame({"paper_id": [a, b]}))
    con.register("paper_titles", titles)
    con.execute(f"CREATE VIEW paper_aliases AS {PAPER_ALIASES.sql}")
    # 'a two' names a only; 'a' is a's own id (b once had that title: not an alias); 'c' names both.
    assert con.sql("SELECT * FROM paper_aliases").fetchall() == [(stable_hash("a two"), a, "a two")]


@pytest.mark.parametrize("view", [RANK_HISTORY, PAPER_STATS, PAPER_ALIASES], ids=lambda v: v.name)
def test_each_view_has_the_columns_and_types_it_declares(view: ViewContract) -> None:
    described = connection().sql(f"DESCRIBE {view.name}").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == [(c.name, sql_type(c.dtype)) for c in view.columns]


def test_code_links_has_the_columns_and_types_it_declares() -> None:
    papers = pl.DataFrame(
        {"paper_id": ["X"], "title": ["Ex"], "links": [[{"url": "https://github.com/a/b", "kind": "code"}]]},
    )
    described = connection(papers).sql(f"DESCRIBE {CODE_LINKS.name}").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == [(c.name, sql_type(c.dtype)) for c in CODE_LINKS.columns]
