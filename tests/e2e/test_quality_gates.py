"""Issue #3 end to end: the real snapshots plus every kind of bad input, through `paperfeed run`."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
from pathlib import Path

import pytest

from helpers import SAMPLE_001, abstract, copied, feed_text, paperfeed, run_forked, sql_csv, write_landing
from paperfeed.config import SAMPLE_FEED
from paperfeed.quality.gx import SUITES_ENV, suites_dir

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sample")]

DROP = "'); DROP TABLE papers;--"
SCRIPT = "<script>alert('x')</script> & \"Quotes\", commas"
BAD_INPUTS: dict[str, bytes] = {
    "empty.txt": b"",
    "page.html": b"<!DOCTYPE html>\n<html><head><title>Hugging Face</title></head><body>Too many requests</body></html>\n",
    "random.bin": random.Random(7).randbytes(4096),
    "header-only.txt": feed_text("Mar 22", []).encode(),
    "no-date.txt": feed_text(None, [("A Paper Without a Date", abstract("dates"))]).encode(),
    # A real snapshot re-encoded as Latin-1 (it holds 'TÜLU'): detected, transcoded, a duplicate.
    "latin1.txt": SAMPLE_001.read_text(encoding="utf-8").encode("latin-1"),
    "last-title-no-abstract.txt": feed_text(
        "Mar 22", [(DROP, abstract("injection")), (SCRIPT, abstract("markup")), ("A Title Whose Abstract Never Came", None)]
    ).encode(),
    "huge-abstract.txt": feed_text(
        "Mar 23", [("A Reasonable Paper", abstract("reason")), ("An Unreasonable Paper", "word " * 200_000 + "end.")]
    ).encode(),
}
EXPECTED = {
    "empty.txt": ("rejected", "the file must not be empty"),
    "page.html": ("rejected", "the file must not be an HTML or XML page"),
    "random.bin": ("rejected", "the file must be text in a known encoding"),
    "header-only.txt": ("rejected", "the snapshot must hold at least one record"),
    "no-date.txt": ("rejected", "the header must have a date line like 'Mar 14'"),
    "latin1.txt": ("duplicate", "same records as 001_c6691ec033e09146.txt"),
    "last-title-no-abstract.txt": ("accepted", None),
    "huge-abstract.txt": ("accepted", None),
}


@pytest.fixture(scope="module")
def run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("quality")
    files = {p.name: p.read_bytes() for p in sorted(SAMPLE_FEED.glob("*.txt"))} | BAD_INPUTS
    landing = write_landing(root / "landing", files)
    warehouse = root / "warehouse"
    result = run_forked("run", "--landing", str(landing), "--warehouse", str(warehouse), "--year", "2025", expect=1, output=root / "run")
    return warehouse, result.stdout


def test_each_bad_input_gets_its_status_and_a_reason(run: tuple[Path, str]) -> None:
    warehouse, _ = run
    rows = json.loads(
        paperfeed("sql", "-w", str(warehouse), "-f", "json", "SELECT source_name, status, reason, encoding FROM snapshots").stdout
    )
    found = {r["source_name"]: r for r in rows}
    for name, (status, reason) in EXPECTED.items():
        assert found[name]["status"] == status, found[name]
        if reason is None:
            assert found[name]["reason"] is None
        else:
            assert found[name]["reason"].startswith(reason), found[name]["reason"]
    assert found["latin1.txt"]["encoding"] == "iso-8859-1"
    assert all(found[p.name]["status"] == "accepted" for p in SAMPLE_FEED.glob("*.txt"))


def test_rejections_and_set_aside_records_are_listed_in_quarantine(run: tuple[Path, str]) -> None:
    warehouse, _ = run
    rows = sql_csv(warehouse, "SELECT source_name, coalesce(rank, 0), failed_expectations[1] FROM quarantine ORDER BY 1, 2")
    assert rows == [
        ["empty.txt", "0", "expect_column_values_to_be_between(n_bytes)"],
        ["header-only.txt", "0", "expect_column_values_to_be_between(n_records)"],
        ["huge-abstract.txt", "2", "expect_column_value_lengths_to_be_between(abstract)"],
        ["last-title-no-abstract.txt", "3", "expect_column_values_to_not_be_null(abstract)"],
        ["no-date.txt", "0", "expect_column_values_to_not_be_null(date_text)"],
        ["page.html", "0", "expect_column_values_to_not_match_regex(first_line)"],
        ["random.bin", "0", "expect_column_values_to_not_be_null(encoding)"],
    ]


def test_the_summary_says_what_and_why(run: tuple[Path, str]) -> None:
    _, stdout = run
    assert "5 rejected, 2 records quarantined" in stdout
    assert 'paperfeed sql "SELECT * FROM quarantine"' in stdout
    assert re.search(r"snapshots\s+7 accepted, 1 duplicate, 5 rejected", stdout)
    for label in ("run report", "release"):
        assert label in stdout


def test_the_real_snapshots_are_published_exactly_as_without_the_bad_ones(run: tuple[Path, str], sample_run: Path) -> None:
    warehouse, clean = run[0], sample_run  # the same five snapshots, without the bad inputs
    query = "SELECT * EXCLUDE (links) FROM papers WHERE paper_id IN (SELECT paper_id FROM appearances a JOIN snapshots s USING (snapshot_id) WHERE s.source_name LIKE '00%') ORDER BY paper_id"
    ours = json.loads(paperfeed("sql", "-w", str(warehouse), "-f", "json", query).stdout)
    theirs = json.loads(paperfeed("sql", "-w", str(clean), "-f", "json", query).stdout)
    assert len(ours) == 281 and ours == theirs
    # Besides them: the three good synthetic records, and nothing of the bad inputs.
    assert sql_csv(warehouse, "SELECT count(*) FROM papers") == [["284"]]


@pytest.mark.parametrize("title", [DROP, SCRIPT])
def test_metacharacter_titles_come_back_byte_identical(run: tuple[Path, str], title: str) -> None:
    warehouse, _ = run
    query = "SELECT title, title_raw FROM papers WHERE contains(title, 'DROP') OR contains(title, 'script')"
    as_json = json.loads(paperfeed("sql", "-w", str(warehouse), "-f", "json", query).stdout)
    as_csv = list(csv.DictReader(io.StringIO(paperfeed("sql", "-w", str(warehouse), "-f", "csv", query).stdout)))
    for rows in (as_json, as_csv):
        match = [r for r in rows if r["title"] == title]
        assert len(match) == 1 and match[0]["title_raw"] == title
        assert match[0]["title"].encode("utf-8") == title.encode("utf-8")


def test_the_run_report_is_the_data_quality_report_and_is_linked(run: tuple[Path, str]) -> None:
    warehouse, stdout = run
    [[run_id, report]] = sql_csv(warehouse, "SELECT run_id, quality_report FROM runs")
    assert report == str(warehouse / "reports" / f"{run_id}.html")
    assert re.search(rf"run report\s+{re.escape(report)}", stdout)
    html = Path(report).read_text(encoding="utf-8")
    assert "72 of 72 checks of the publish gate passed" in html
    for name, (status, reason) in EXPECTED.items():  # every file, with what the gates made of it
        assert f"<code>{name}</code>" in html and f'class="{status}"' in html
        if reason:
            assert reason.replace("'", "&#x27;") in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html


def test_a_run_that_only_rejects_files_publishes_no_version_and_records_the_run(run: tuple[Path, str], tmp_path: Path) -> None:
    warehouse = copied(run[0], tmp_path)
    landing = write_landing(tmp_path / "landing", {"robots.html": b"<html>go away</html>", "teapot.html": b"<html>I'm a teapot</html>"})
    result = run_forked("run", "-l", str(landing), "-w", str(warehouse), "--year", "2025", expect=1, output=tmp_path / "run")
    said = " ".join(result.stdout.split())
    assert "no new data (2 rejected), nothing published: dataset version 1 stays current" in said
    assert re.search(r"robots\.html\s+│\s+rejected", result.stdout) and "Traceback" not in result.stderr
    assert [v["dataset_version"] for v in json.loads(paperfeed("versions", "-w", str(warehouse), "-f", "json").stdout)] == [1]
    assert sql_csv(warehouse, "SELECT status, dataset_version, n_rejected FROM runs ORDER BY finished_at DESC LIMIT 1") == [
        ["recorded", "1", "2"]
    ]


def test_a_failing_publish_check_publishes_nothing_and_exits_4(
    run: tuple[Path, str], tmp_path: Path
) -> None:
    """A deliberately broken publish check (a suite no dataset can pass) leaves the version current."""
    warehouse, _ = run
    suites = tmp_path / "expectations"
    shutil.copytree(suites_dir(), suites)
    papers = json.loads((suites / "papers.json").read_text())
    papers["expectations"].append(
        # Broken on purpose: no paper the run writes can pass it (the gate judges the rows a run writes).
        {"type": "expect_column_values_to_be_null", "kwargs": {"column": "title"}, "description": "papers have no title (broken on purpose)"}
    )
    (suites / "papers.json").write_text(json.dumps(papers))
    landing = write_landing(tmp_path / "landing", {"new.txt": feed_text("Mar 24", [("A New Paper", abstract("new"))]).encode()})
    result = run_forked("run", "-l", str(landing), "-w", str(warehouse), "--year", "2025", expect=4, output=tmp_path / "run",
                        env={SUITES_ENV: str(suites)})
    assert "publish gate failed, nothing published (dataset version 1 stays current)" in result.stderr
    assert "papers have no title (broken on purpose)" in result.stderr
    assert "Traceback" not in result.stderr
    assert sql_csv(warehouse, "SELECT count(*) FROM papers") == [["284"]]
    assert [v["dataset_version"] for v in json.loads(paperfeed("versions", "-w", str(warehouse), "-f", "json").stdout)] == [1]
    assert sql_csv(warehouse, "SELECT status FROM runs ORDER BY finished_at") == [["published"], ["failed"]]

