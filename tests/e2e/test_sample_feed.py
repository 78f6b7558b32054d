"""End to end on the real sample feed, through the `paperfeed` command and the Prefect flow.

Expected figures were counted independently from the raw files (plain Python over the text,
not paperfeed's code): 374 records, 281 distinct papers, and the distributions below.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ARRIVED, SAMPLE_001, TwoVersions, paperfeed, run_forked, samples, sql_csv, write_landing
from paperfeed.storage.warehouse import Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sample")]


@pytest.fixture
def warehouse(sample_run: Path) -> Path:
    """The README's main job: `paperfeed run` with no landing folder ingests the sample feed."""
    return sample_run


def test_counts_from_the_issue(warehouse: Path) -> None:
    assert sql_csv(warehouse, "SELECT count(*) FROM papers") == [["281"]]
    assert sql_csv(warehouse, "SELECT count(*) FROM appearances") == [["374"]]
    assert sql_csv(warehouse, "SELECT status, count(*) FROM snapshots GROUP BY status") == [["accepted", "5"]]


def test_snapshots_in_arrival_order_with_their_dates(warehouse: Path) -> None:
    rows = sql_csv(
        warehouse,
        "SELECT source_name, snapshot_date, date_source, n_records, n_truncated FROM snapshots ORDER BY source_name",
    )
    assert rows == [
        ["000_777945d1c727355c.txt", "2025-03-14", "config", "70", "0"],
        ["001_c6691ec033e09146.txt", "2025-03-14", "config", "89", "0"],
        ["002_3c1d6a97ad5a2e5f.txt", "2025-03-11", "config", "78", "0"],
        ["003_a1260c3233c7131d.txt", "2025-03-17", "config", "55", "1"],
        ["004_f5ce87addd7f7628.txt", "2025-03-21", "config", "82", "0"],
    ]


def test_golden_distributions(warehouse: Path) -> None:
    assert sql_csv(warehouse, "SELECT first_seen, count(*) FROM papers GROUP BY 1 ORDER BY 1") == [
        ["2025-03-11", "78"], ["2025-03-14", "137"], ["2025-03-17", "20"], ["2025-03-21", "46"],
    ]
    assert sql_csv(warehouse, "SELECT times_seen, count(*) FROM papers GROUP BY 1 ORDER BY 1") == [
        ["1", "213"], ["2", "48"], ["3", "15"], ["4", "5"],
    ]
    assert sql_csv(warehouse, "SELECT dates_seen, count(*) FROM papers GROUP BY 1 ORDER BY 1") == [
        ["1", "214"], ["2", "50"], ["3", "16"], ["4", "1"],
    ]
    assert sql_csv(warehouse, "SELECT count(*) FROM papers WHERE best_rank = 1") == [["5"]]


def test_papers_that_stayed_longest(warehouse: Path) -> None:
    rows = sql_csv(
        warehouse,
        "SELECT last_seen - first_seen AS days, replace(title, ',', ' ') FROM papers ORDER BY days DESC, title LIMIT 3",
    )
    assert rows == [
        ["10", "Language Models can Solve Computer Tasks"],
        ["10", "Real-World Offline Reinforcement Learning from Vision Language Model Feedback"],
        ["10", "Robot Fine-Tuning Made Easy: Pre-Training Rewards and Policies for Autonomous Real-World Reinforcement Learning"],
    ]


def test_truncated_record_is_kept_and_flagged(warehouse: Path) -> None:
    rows = sql_csv(
        warehouse,
        "SELECT p.abstract_is_truncated, right(p.abstract, 22), a.rank FROM papers p JOIN appearances a USING (paper_id) "
        "WHERE a.is_truncated",
    )
    assert rows == [["true", "rewards and transition", "55"]]


def test_latex_and_links_are_clean_in_the_dataset(warehouse: Path) -> None:
    assert sql_csv(warehouse, "SELECT count(*) FROM papers WHERE contains(abstract, '\\')") == [["0"]]
    assert sql_csv(warehouse, "SELECT count(*) FROM papers WHERE contains(abstract_raw, '\\')") == [["14"]]
    assert sql_csv(warehouse, "SELECT count(*) FROM papers WHERE abstract LIKE '%TÜLU 3%'") == [["1"]]
    kinds = sql_csv(
        warehouse,
        "SELECT l.kind, count(DISTINCT l.url) FROM (SELECT unnest(links) AS l FROM papers) GROUP BY 1 ORDER BY 1",
    )
    assert kinds == [
        ["code", "50"], ["huggingface", "2"], ["huggingface_dataset", "1"], ["huggingface_model", "1"],
        ["other", "3"], ["project_page", "49"],
    ]


def test_running_again_publishes_nothing_and_records_the_noop(warehouse: Path, tmp_path: Path) -> None:
    result = run_forked("run", "--warehouse", str(warehouse), "--json", output=tmp_path / "again")
    summary = json.loads(result.stdout)
    assert summary["status"] == "noop" and summary["dataset_version"] == 1
    assert {o["status"] for o in summary["outcomes"]} == {"already ingested"}
    versions = json.loads(paperfeed("versions", "--warehouse", str(warehouse), "--format", "json").stdout)
    assert [v["dataset_version"] for v in versions] == [1]
    assert sql_csv(warehouse, "SELECT status FROM runs ORDER BY finished_at") == [["published"], ["noop"]]


def test_earlier_versions_answer_with_their_own_counts(two_versions: TwoVersions) -> None:
    query = "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM appearances), (SELECT count(*) FROM snapshots)"
    assert sql_csv(two_versions.full, query, "--version", "1") == [["215", "237", "3"]]
    assert sql_csv(two_versions.full, query, "--version", "2") == [["281", "374", "5"]]
    assert sql_csv(two_versions.full, query) == [["281", "374", "5"]]
    assert sql_csv(two_versions.base, query) == [["215", "237", "3"]]


def test_the_duckdb_command_line_tool_reads_a_copied_warehouse_as_the_readme_says(warehouse: Path, tmp_path: Path) -> None:
    """The README's route: the `duckdb` command (duckdb-cli at DuckDB's version), started in the
    warehouse folder, a copy of it here. The file itself says how, to a reader without the extension."""
    copy = shutil.copytree(warehouse, tmp_path / "copy", symlinks=True)
    duckdb_cli = str(Path(sys.executable).with_name("duckdb"))

    def cli(sql: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([duckdb_cli, "-readonly", "-csv", "-noheader", "paperfeed.duckdb", "-c", sql],
                              cwd=copy, capture_output=True, text=True, timeout=60)
        assert done.returncode == expect, done
        return done

    told = cli("SELECT how_to_read FROM paperfeed_version").stdout
    load = re.search(r"LOAD '[^']+';", told)
    assert load and "from the warehouse folder" in told, told
    assert cli(f"{load.group(0)} SELECT count(*) FROM papers").stdout.strip() == "281"
    comment = cli("SELECT comment FROM duckdb_views() WHERE view_name = 'papers'").stdout
    assert load.group(0) in comment


def test_run_summary_is_a_prefect_artifact(warehouse: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    # Other tests' runs report to the same server: this run's summary is the one that names it.
    run_id = Warehouse.at(warehouse).published()["run_id"][0]
    with get_client(sync_client=True) as client:
        summaries = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["paperfeed-run"])))
    mine = [str(a.data) for a in summaries if str(a.data).startswith(f"# paperfeed run `{run_id}`")]
    assert len(mine) == 1
    assert "published dataset version 1" in mine[0]
    assert "| `003_a1260c3233c7131d.txt` |" in mine[0]


def test_errors_are_one_line_not_a_traceback(warehouse: Path, tmp_path: Path) -> None:
    missing = paperfeed("run", "--landing", str(tmp_path / "nowhere"), "--warehouse", str(tmp_path / "w"), expect=2)
    assert "Traceback" not in missing.stderr and "does not exist" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    bad_sql = paperfeed("sql", "--warehouse", str(warehouse), "SELECT nope FROM papers", expect=2)
    assert "Traceback" not in bad_sql.stderr and "SQL failed" in bad_sql.stderr
    bad_version = paperfeed("sql", "--warehouse", str(warehouse), "--version", "9", "SELECT 1", expect=2)
    assert "dataset version 9 does not exist" in bad_version.stderr


def readme_blocks(language: str) -> list[str]:
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_the_readme_example_queries_answer_on_the_sample(warehouse: Path) -> None:
    examples = readme_blocks("sql")[0]
    queries = {
        statement.strip().splitlines()[0]: statement.strip()
        for statement in examples.split(";\n")
        if statement.strip()
    }
    some_paper = sql_csv(warehouse, "SELECT min(paper_id) FROM papers")[0][0]
    # Pasted as they stand, comment first: through stdin, and as an argument after `--`.
    answers = {
        comment: paperfeed("sql", "-w", str(warehouse), "--format", "json", stdin=query.replace("<paper_id>", some_paper)).stdout
        for comment, query in queries.items()
    }
    first_comment, first_query = next(iter(queries.items()))
    assert paperfeed("sql", "-w", str(warehouse), "--format", "json", "--", first_query).stdout == answers[first_comment]
    assert len(answers) == 10
    rows = {comment: json.loads(answer) for comment, answer in answers.items()}
    longest, trending, by_title, by_id, evidence, one_paper, new_on_17, over_time, with_code, history = rows.values()
    assert by_title and all("reward model" in r["title"].lower() for r in by_title)
    assert by_id == [{"paper_id": some_paper}]  # a paper's own id names it (no paper of the sample had another)
    # The sample's one non-exact decision: D4RL and D5RL, kept apart (their numbers differ).
    assert [(r["decision"], r["rule"], r["title_key"][:4], r["other_title_key"][:4]) for r in evidence] in (
        [("kept_apart", "numbers_differ", "d4rl", "d5rl")], [("kept_apart", "numbers_differ", "d5rl", "d4rl")]
    )
    # Mar 11 to Mar 21: 11 calendar days; one paper was on all four snapshot dates, a streak of 4.
    stays = [(r["days_on_feed"], r["n_dates"], r["longest_streak"]) for r in longest]
    assert len(stays) == 10 and stays[0] == (11, 4, 4) and stays[1][0] == stays[2][0] == 11
    assert stays == sorted(stays, key=lambda s: (-s[0], -s[1]))
    assert len(trending) == 10 and [r["score"] for r in trending] == sorted((r["score"] for r in trending), reverse=True)
    assert [r["snapshot_date"] for r in one_paper] == sorted(r["snapshot_date"] for r in one_paper) and one_paper
    assert len(new_on_17) == 20  # papers first seen on Mar 17 (the golden distribution above)
    assert [(r["snapshot_date"], r["new"]) for r in over_time] == [
        ("2025-03-11", 78), ("2025-03-14", 137), ("2025-03-17", 20), ("2025-03-21", 46),
    ]
    assert sum(r["new"] + r["returning"] for r in over_time) == sum(r["papers"] for r in over_time)
    assert len({r["url"] for r in with_code}) == 50
    assert all("github.com" in r["url"] or "gitlab" in r["url"] for r in with_code)
    assert all(r["repo_owner"] and r["repo_name"] for r in with_code)  # every code link on the sample names its repository
    assert [(r["version"], r["is_current"]) for r in history] == [(1, True)]


def test_paper_stats_on_the_real_snapshots_agree_with_the_formulas_computed_apart(warehouse: Path) -> None:
    """Every paper's figures in `paper_stats`, against the documented formulas worked out in Python
    from its appearances (the SQL and this are written apart, from the same README text)."""
    sightings = json.loads(paperfeed("sql", "-w", str(warehouse), "-f", "json", "SELECT paper_id, snapshot_date, rank FROM appearances").stdout)
    stats = {r["paper_id"]: r for r in json.loads(paperfeed("sql", "-w", str(warehouse), "-f", "json", "SELECT * FROM paper_stats").stdout)}
    by_paper: dict[str, dict[str, int]] = {}
    for r in sightings:  # a paper's rank on a date: its best that date (Mar 14 has two snapshots)
        ranks = by_paper.setdefault(r["paper_id"], {})
        ranks[r["snapshot_date"]] = min(r["rank"], ranks.get(r["snapshot_date"], r["rank"]))
    feed_dates = sorted({r["snapshot_date"] for r in sightings})
    assert feed_dates == ["2025-03-11", "2025-03-14", "2025-03-17", "2025-03-21"]
    newest = dt.date.fromisoformat(feed_dates[-1])
    assert len(stats) == len(by_paper) == 281
    for paper_id, ranks in by_paper.items():
        dates = sorted(ranks)
        positions = [feed_dates.index(d) for d in dates]
        streak = longest = 1
        for before, after in itertools.pairwise(positions):
            streak = streak + 1 if after == before + 1 else 1
            longest = max(longest, streak)
        ordered = sorted(ranks.values())
        middle = len(ordered) // 2
        median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        score = sum(1 / math.log2(1 + rank) * 0.5 ** ((newest - dt.date.fromisoformat(d)).days / 7) for d, rank in ranks.items())
        first, last = dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])
        got = stats[paper_id]
        assert (got["first_seen"], got["last_seen"], got["days_on_feed"], got["n_dates"], got["longest_streak"]) == (
            dates[0], dates[-1], (last - first).days + 1, len(dates), longest
        ), paper_id
        assert (got["best_rank"], got["median_rank"], got["last_rank"]) == (ordered[0], median, ranks[dates[-1]]), paper_id
        assert got["trending_score"] == pytest.approx(score), paper_id
    # The figures an analyst asks for, on the real feed.
    assert max(r["days_on_feed"] for r in stats.values()) == 11
    assert sum(r["longest_streak"] == 4 for r in stats.values()) == sum(len(ranks) == 4 for ranks in by_paper.values())


def test_the_readme_duckdb_snippets_work_as_written(warehouse: Path) -> None:
    """The Python snippet and the time-travel SQL, run from the folder that holds `warehouse/`."""
    python = next(block for block in readme_blocks("python") if "paperfeed.duckdb" in block)
    lookup, scan = [s.strip() for s in readme_blocks("sql")[1].split(";") if s.strip()][:2]
    script = python + (
        f"\nversion = con.sql({lookup.replace('dataset_version = 3', 'dataset_version = 1')!r}).fetchone()[0]"
        f"\nprint('papers then:', con.sql({scan.split('--')[0]!r}.replace('version => 2', f'version => {{version}}')).fetchone()[0])"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=warehouse.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "times_seen" in result.stdout and "papers then: 281" in result.stdout


def test_a_file_dated_by_its_arrival_year_is_named_in_a_warning(prefect_api: str, tmp_path: Path) -> None:
    """No year in the header, none in the path, no --year: the year is a guess, and the run says so."""
    landing = write_landing(tmp_path / "copied", samples(SAMPLE_001))
    result = run_forked("run", "-l", str(landing), "-w", str(tmp_path / "warehouse"), output=tmp_path / "run")
    warning = " ".join(result.stderr.split())
    assert f"warning: {SAMPLE_001.name} is dated " in warning and "pass --year" in warning
    year = ARRIVED.year if ARRIVED.date() >= dt.date(ARRIVED.year, 3, 14) else ARRIVED.year - 1
    assert f"is dated {year}-03-14: its header gives no year" in warning
    with_year = run_forked(
        "run", "-l", str(landing), "-w", str(tmp_path / "other"), "--year", "2025", output=tmp_path / "with-year"
    )
    assert "warning" not in with_year.stderr
