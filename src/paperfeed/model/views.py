"""Views beside the tables: what analysts of a trending feed compute by hand, declared once.

Each view is SQL over the tables of one dataset version (DuckDB: `paperfeed sql`, the warehouse's
DuckDB file), with its columns, types and meanings, as the tables' contracts are; the README's
reference is checked against them. The formulas:

- a paper's *feed dates* are the snapshot dates it was on the feed; its rank on a date is its best
  (lowest) position in that date's snapshots (a date may have more than one);
- *days on the feed*: last_seen - first_seen + 1, in calendar days;
- *longest streak*: the most consecutive snapshot dates of the feed (in the order of every
  snapshot date the version holds; a day nobody captured does not break a streak) it was on;
- *trending score*: sum over its feed dates of 1 / log2(1 + rank) * 0.5 ^ (age / 7), age being
  the days from that date to the version's newest snapshot date. The rank weight is the position
  discount of discounted cumulative gain (Järvelin and Kekäläinen, "Cumulated gain-based
  evaluation of IR techniques", ACM TOIS 20(4), 2002): rank 1 counts 1, rank 3 counts 0.5, rank
  15 counts 0.25. The decay halves a date's weight every 7 days.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from paperfeed.model.contracts import Column

TRENDING_HALF_LIFE_DAYS = 7
CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org")


@dataclass(frozen=True)
class ViewContract:
    name: str
    meaning: str
    sql: str  # the SELECT that defines it, over the tables' views
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


RANK_HISTORY = ViewContract(
    name="rank_history",
    meaning="One row per paper per snapshot date it was on the feed: its rank that date.",
    sql="""
SELECT paper_id, snapshot_date, min(rank) AS rank, count(*) AS sightings
FROM appearances
GROUP BY paper_id, snapshot_date
""",
    columns=(
        Column("paper_id", pl.String, "the paper"),
        Column("snapshot_date", pl.Date, "a snapshot date it was on the feed"),
        Column("rank", pl.Int64, "its best (lowest) position in that date's snapshots"),
        Column("sightings", pl.Int64, "snapshots of that date it was in"),
    ),
)

PAPER_STATS = ViewContract(
    name="paper_stats",
    meaning="One row per paper: how long, how high and how steadily it stayed on the feed (formulas under Views).",
    sql=f"""
WITH feed AS (
    SELECT snapshot_date, row_number() OVER (ORDER BY snapshot_date) AS feed_day, max(snapshot_date) OVER () AS newest
    FROM (SELECT DISTINCT snapshot_date FROM appearances)
), daily AS (
    SELECT h.paper_id, h.snapshot_date, h.rank, f.newest,
           f.feed_day - row_number() OVER (PARTITION BY h.paper_id ORDER BY f.feed_day) AS streak
    FROM rank_history h JOIN feed f USING (snapshot_date)
), streaks AS (
    SELECT paper_id, max(days) AS longest_streak
    FROM (SELECT paper_id, count(*) AS days FROM daily GROUP BY paper_id, streak)
    GROUP BY paper_id
), stats AS (
    SELECT paper_id,
           min(snapshot_date) AS first_seen,
           max(snapshot_date) AS last_seen,
           CAST(date_diff('day', min(snapshot_date), max(snapshot_date)) + 1 AS BIGINT) AS days_on_feed,
           count(*) AS n_dates,
           min(rank) AS best_rank,
           CAST(median(rank) AS DOUBLE) AS median_rank,
           arg_max(rank, snapshot_date) AS last_rank,
           sum(1 / log2(1 + rank) * pow(0.5, date_diff('day', snapshot_date, newest) / {TRENDING_HALF_LIFE_DAYS}))
               AS trending_score
    FROM daily
    GROUP BY paper_id
)
SELECT s.paper_id, p.title, s.first_seen, s.last_seen, s.days_on_feed, s.n_dates, t.longest_streak,
       s.best_rank, s.median_rank, s.last_rank, s.trending_score
FROM stats s JOIN streaks t USING (paper_id) LEFT JOIN papers p USING (paper_id)
""",
    columns=(
        Column("paper_id", pl.String, "the paper"),
        Column("title", pl.String, "its title (papers.title)"),
        Column("first_seen", pl.Date, "first snapshot date it was on the feed"),
        Column("last_seen", pl.Date, "last snapshot date it was on the feed"),
        Column("days_on_feed", pl.Int64, "last_seen - first_seen + 1, in calendar days"),
        Column("n_dates", pl.Int64, "snapshot dates it was on the feed"),
        Column("longest_streak", pl.Int64, "most consecutive snapshot dates of the feed it was on"),
        Column("best_rank", pl.Int64, "best (lowest) rank"),
        Column("median_rank", pl.Float64, "median of its rank over its snapshot dates"),
        Column("last_rank", pl.Int64, "rank on its last snapshot date"),
        Column(
            "trending_score",
            pl.Float64,
            f"sum over its dates of 1/log2(1 + rank) * 0.5^(days before the newest snapshot date / {TRENDING_HALF_LIFE_DAYS})",
        ),
    ),
)

PAPER_ALIASES = ViewContract(
    name="paper_aliases",
    meaning="Ids that resolve to a paper: the id each of its other titles gives on its own (paper_titles.title_id), "
    "so an id published before a retitle, a merge or an earlier sighting still finds the paper.",
    sql="""
SELECT title_id AS alias_id, any_value(paper_id) AS paper_id, any_value(title) AS title
FROM paper_titles
WHERE title_id NOT IN (SELECT paper_id FROM papers)
GROUP BY title_id
HAVING count(DISTINCT paper_id) = 1
""",
    columns=(
        Column("alias_id", pl.String, "an id that is no paper's id today: the hash of one of the paper's folded titles"),
        Column("paper_id", pl.String, "the paper it resolves to (an id two papers' titles give resolves to neither)"),
        Column("title", pl.String, "the title that gives it"),
    ),
)

_HOSTS = "|".join(h.replace(".", r"\.") for h in CODE_HOSTS)
# host, owner, name: the first two path segments after a code host ('.git' dropped from the name).
_REPO = rf"^https?://(?:www\.)?({_HOSTS})/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?(?:[/?#].*)?$"

CODE_LINKS = ViewContract(
    name="code_links",
    meaning="One row per code link of a paper (papers.links of kind 'code'), with the repository it names.",
    sql=f"""
SELECT paper_id, url, host,
       CASE WHEN repo['owner'] <> '' THEN repo['owner'] END AS repo_owner,
       CASE WHEN repo['name'] <> '' THEN repo['name'] END AS repo_name,
       repo['owner'] = '' AS is_malformed
FROM (
    SELECT paper_id, link.url AS url,
           lower(regexp_extract(link.url, '^https?://(?:www\\.)?([^/?#:]+)', 1)) AS host,
           regexp_extract(link.url, '{_REPO}', ['host', 'owner', 'name'], 'i') AS repo
    FROM (SELECT paper_id, unnest(links) AS link FROM papers)
    WHERE link.kind = 'code'
)
""",
    columns=(
        Column("paper_id", pl.String, "the paper whose abstract links it"),
        Column("url", pl.String, "the link as found"),
        Column("host", pl.String, f"its host: one of {', '.join(CODE_HOSTS)}"),
        Column("repo_owner", pl.String, "the repository's owner (user, organisation or group)", nullable=True),
        Column("repo_name", pl.String, "the repository's name, without '.git'", nullable=True),
        Column("is_malformed", pl.Boolean, "the link names no owner/name repository (kept, and flagged)"),
    ),
)

# In dependency order: paper_stats reads rank_history.
VIEWS: tuple[ViewContract, ...] = (RANK_HISTORY, PAPER_STATS, PAPER_ALIASES, CODE_LINKS)
