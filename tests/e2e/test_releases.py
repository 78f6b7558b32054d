"""Releases for download: every file the manifest lists re-reads with its rows and sha256; the
changes, the dataset card, `latest` and the index page say what they should."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import feedparser
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from helpers import SAMPLES, TwoVersions, copied, paperfeed
from paperfeed.model.contracts import ALL_TABLES
from paperfeed.publish.pages import NEW, RETURNING
from paperfeed.quality.gx import suites_dir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def warehouse(two_versions: TwoVersions, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two versions, built with `paperfeed run` (a copy: the export tests change it)."""
    return copied(two_versions.full, tmp_path_factory.mktemp("releases"))


def release(warehouse: Path, version: int) -> Path:
    return warehouse / "releases" / f"version={version:04d}"


def manifest(warehouse: Path, version: int) -> dict:  # type: ignore[type-arg]
    return json.loads((release(warehouse, version) / "manifest.json").read_text())


def rows(warehouse: Path, version: int) -> dict[str, int]:
    counted: dict[str, int] = {}
    for f in manifest(warehouse, version)["files"]:
        counted[f["table"]] = counted.get(f["table"], 0) + (f["rows"] or 0)
    return counted


@pytest.mark.parametrize("version", [1, 2])
def test_every_file_in_the_manifest_rereads_with_its_rows_bytes_sha256_and_schema(warehouse: Path, version: int) -> None:
    folder = release(warehouse, version)
    listed = manifest(warehouse, version)
    assert listed["version"] == version and listed["release"] == folder.name
    for entry in listed["files"]:
        data = (folder / entry["path"]).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        if entry["path"].endswith(".parquet"):
            assert pl.read_parquet(folder / entry["path"]).height == entry["rows"]
            assert [f["name"] for f in entry["schema"]] == pq.read_schema(folder / entry["path"]).names
        elif entry["path"].endswith(".csv"):
            assert pl.read_csv(folder / entry["path"]).height == entry["rows"]
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert on_disk == {f["path"] for f in listed["files"]} | {"manifest.json"}
    # The same check with coreutils alone, as a downloader without Python would run it.
    checked = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {line.removesuffix(": OK") for line in checked.stdout.splitlines()} == {f["path"] for f in listed["files"]} - {"SHA256SUMS"}
    # No rows, no file: nothing was set aside, and the one pair kept apart for review (D4RL, D5RL)
    # comes together in version 2.
    empty = {"quarantine"} | ({"paper_matches"} if version == 1 else set())
    assert {f["table"] for f in listed["files"]} >= {t.name for t in ALL_TABLES} - empty


def test_a_release_holds_its_versions_data(warehouse: Path) -> None:
    sizes = {v: rows(warehouse, v) for v in (1, 2)}
    assert (sizes[1]["papers"], sizes[1]["appearances"], sizes[1]["snapshots"]) == (215, 237, 3)
    assert (sizes[2]["papers"], sizes[2]["appearances"], sizes[2]["snapshots"]) == (281, 374, 5)
    # Each manifest names the snapshots its version added (the release's snapshots files hold them all).
    assert [s["source_name"] for s in manifest(warehouse, 1)["new_snapshots"]] == [p.name for p in SAMPLES[:3]]
    assert [s["source_name"] for s in manifest(warehouse, 2)["new_snapshots"]] == [p.name for p in SAMPLES[3:]]
    for version in (1, 2):  # each table a folder of files, read with one glob
        assert pl.read_parquet(release(warehouse, version) / "papers" / "*.parquet").height == sizes[version]["papers"]


def test_a_new_release_shares_the_files_its_run_did_not_change(two_versions: TwoVersions) -> None:
    """Version 2 rewrote only the weeks its snapshots touched; the other files are version 1's,
    the same bytes on disk (hard links), not copies. (The warehouse as `paperfeed run` left it: a
    copy of it would copy the links too.)"""
    old, new = (release(two_versions.full, v) for v in (1, 2))
    files = {f["path"] for f in manifest(two_versions.full, 2)["files"]}
    shared = {path for path in files if (old / path).is_file() and (old / path).samefile(new / path)}
    # Sightings of Mar 10-16 (week 11) were all in version 1: version 2 added Mar 17 and 21 (week 12).
    assert shared == {"appearances/2025-W11.parquet"}
    # Papers first seen in week 11 were seen again (times_seen, last_seen changed): rewritten.
    assert {"papers/2025-W11.parquet", "papers/2025-W12.parquet", "appearances/2025-W12.parquet"} <= files - shared


def test_one_glob_reads_every_version_once_with_its_number(warehouse: Path) -> None:
    every = pl.scan_parquet(warehouse / "releases" / "version=*" / "papers" / "*.parquet", hive_partitioning=True).collect()
    assert every.group_by("version").len().sort("version").rows() == [(1, 215), (2, 281)]


def test_the_changes_are_the_paper_ids_that_differ_between_the_two_releases(warehouse: Path) -> None:
    old, new = (pl.read_parquet(release(warehouse, v) / "papers" / "*.parquet") for v in (1, 2))
    added = set(new["paper_id"]) - set(old["paper_id"])
    both = old.join(new, on="paper_id", suffix="_new")
    updated = {
        row["paper_id"] for row in both.to_dicts()
        if any(row[c] != row[f"{c}_new"] for c in old.columns if c != "paper_id")
    }
    changes = {kind: set(pl.read_csv(release(warehouse, 2) / "changes" / f"{kind}.csv")["paper_id"]) for kind in ("added", "updated")}
    assert changes == {"added": added, "updated": updated}
    assert len(added) == 66 and len(updated) == 59  # papers seen again got new last_seen / times_seen
    assert manifest(warehouse, 2)["changes"] == {"previous_version": 1, "added": 66, "updated": 59}


def test_the_dataset_card_can_be_uploaded_to_the_hub_as_is(warehouse: Path) -> None:
    folder = release(warehouse, 2)
    text = (folder / "README.md").read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    configs = {c["config_name"]: c for c in front["configs"]}
    assert set(configs) == {t.name for t in ALL_TABLES} - {"quarantine"}  # a table without rows has no config
    assert configs["papers"].get("default") is True
    for config in configs.values():
        assert all(list(folder.glob(f["path"])) for f in config["data_files"])
    assert "# paperfeed, dataset version 2" in text and "| `papers` | 281 |" in text


def test_the_feeds_list_the_papers_each_release_added_newest_first(warehouse: Path) -> None:
    releases = warehouse / "releases"
    parsed = feedparser.parse((releases / "feed.atom").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    added = {v: set(pl.read_csv(release(warehouse, v) / "changes" / "added.csv")["paper_id"]) for v in (1, 2)}
    ids = [e.id.removeprefix("urn:paperfeed:paper:") for e in parsed.entries]
    assert len(ids) == 100 == len(set(ids))  # the newest 100: version 2's 66, then 34 of version 1's
    assert set(ids[:66]) == added[2] and set(ids[66:]) <= added[1]
    assert parsed.entries[0].published == manifest(warehouse, 2)["published"]  # when version 2 was published
    assert all(e.title and e.content[0].value for e in parsed.entries)
    items = json.loads((releases / "feed.json").read_text())["items"]
    assert [i["_paperfeed"]["paper_id"] for i in items] == ids
    assert [i["_paperfeed"]["dataset_version"] for i in items] == [2] * 66 + [1] * 34


@pytest.mark.parametrize("version", [1, 2])
def test_every_config_of_the_card_loads_with_the_datasets_library_offline(
    warehouse: Path, version: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a downloader (or the Hub's viewer) loads a release: `datasets.load_dataset(folder, config)`."""
    for name, value in {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}.items():
        monkeypatch.setenv(name, value)
    import datasets
    from huggingface_hub import DatasetCard

    folder = release(warehouse, version)
    card = DatasetCard.load(folder / "README.md")
    configs = [c["config_name"] for c in card.data.to_dict()["configs"]]
    expected = {t: n for t, n in rows(warehouse, version).items() if t and not t.startswith("changes/") and n}
    assert sorted(configs) == sorted(expected)  # every table with rows, and only those
    for config in configs:
        loaded = datasets.load_dataset(str(folder), config, split="train", cache_dir=str(tmp_path / "cache"))
        assert loaded.num_rows == expected[config], config


def test_the_card_front_matter_is_complete_for_the_hub(warehouse: Path) -> None:
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCard.load(release(warehouse, 2) / "README.md").data
    assert isinstance(data, DatasetCardData)
    assert data.license == "other" and data.license_name and data.license_link.startswith("https://")
    assert data.pretty_name and data.task_categories and data.language == ["en"]
    assert data.size_categories == ["n<1K"]  # 281 papers


def test_latest_moves_to_the_newest_complete_release_only(warehouse: Path) -> None:
    releases = warehouse / "releases"
    assert json.loads((releases / "latest.json").read_text())["version"] == 2
    paperfeed("export", "-w", str(warehouse), "--version", "1")  # an older release: latest stays
    assert json.loads((releases / "latest.json").read_text())["version"] == 2


def test_export_recreates_a_missing_release_and_cleans_up_after_a_dead_writer(warehouse: Path) -> None:
    releases = warehouse / "releases"
    shutil.rmtree(release(warehouse, 1))
    (releases / ".version=0001.99999.tmp").mkdir()  # what a killed export would leave
    (releases / ".version=0001.99999.tmp" / "papers.parquet").write_text("half")
    result = json.loads(paperfeed("export", "-w", str(warehouse), "--version", "1", "--json").stdout)
    assert result["version"] == 1 and (release(warehouse, 1) / "manifest.json").is_file()
    assert not list(releases.glob(".*.tmp"))
    assert paperfeed("export", "-w", str(warehouse), "--version", "9", expect=2).stderr.count("does not exist") == 1


def test_the_index_page_links_every_release_its_tables_and_checksums(warehouse: Path) -> None:
    releases = warehouse / "releases"
    html = (releases / "index.html").read_text()
    for version in (1, 2):
        name = release(warehouse, version).name
        for path in ("manifest.json", "SHA256SUMS", "README.md"):
            assert f'href="{name}/{path}"' in html and (releases / name / path).is_file()
        for table, count in rows(warehouse, version).items():
            if table and not table.startswith("changes/"):
                assert f'href="{name}/{table}/"' in html and (releases / name / table).is_dir()
                assert f">{count:,}</td>" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "<script" not in html


# --- the pages, as a browser shows them ------------------------------------------------------
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1200,1600",
]


def render(page: Path, tmp_path: Path) -> tuple[str, Image.Image]:
    """The page's DOM after rendering, and a screenshot of it, from headless Chromium."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        message = "Chromium is not installed (bash scripts/setup.sh --with-browser installs it)"
        if os.environ.get("PAPERFEED_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    url = page.resolve().as_uri()
    dom = subprocess.run([browser, *CHROMIUM_FLAGS, *profile, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *CHROMIUM_FLAGS, *profile, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    assert dom.returncode == 0 and shot.is_file(), dom.stderr[-2000:]
    return dom.stdout, Image.open(shot).convert("RGB")


def pixels_near(image: Image.Image, colour: str, tolerance: int = 12) -> int:
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(1 for p in image.get_flattened_data() if all(abs(a - b) <= tolerance for a, b in zip(p, target, strict=True)))


PUBLISH_SUITES = ["snapshots", "appearances", "papers", "paper_versions", "paper_titles", "paper_matches", "links", "quarantine", "runs"]  # README


@pytest.mark.parametrize("version", [1, 2])
def test_each_release_carries_the_quality_record_of_its_version(warehouse: Path, version: int) -> None:
    checks = sum(len(json.loads((suites_dir() / f"{s}.json").read_text())["expectations"]) for s in PUBLISH_SUITES)
    record = manifest(warehouse, version)["quality"]
    assert record["evaluated"] == record["passed"] == checks == len(record["checks"])
    assert {c["suite"] for c in record["checks"]} == set(PUBLISH_SUITES)
    assert f"this version passed {checks} of {checks} checks of the publish gate" in (release(warehouse, version) / "README.md").read_text()
    assert f"{checks} of {checks} checks passed" in (warehouse / "releases" / "index.html").read_text()
    # the same record as the warehouse's runs table, for that version
    recorded = sql_rows(warehouse, version)
    assert recorded == [(c["suite"], c["expectation"], c["column"], c["success"]) for c in record["checks"]]


def sql_rows(warehouse: Path, version: int) -> list[tuple[str, str, str | None, bool]]:
    query = (
        "SELECT c.suite, c.expectation, c.column, c.success FROM runs, unnest(checks) WITH ORDINALITY AS t(c, i) "
        f"WHERE status = 'published' AND dataset_version = {version} ORDER BY i"
    )
    rows = json.loads(paperfeed("sql", "-w", str(warehouse), "--json", query).stdout)
    return [(r["suite"], r["expectation"], r["column"], r["success"]) for r in rows]


def test_the_run_report_shows_the_files_and_the_feed_over_time(warehouse: Path, tmp_path: Path) -> None:
    report = max((warehouse / "reports").glob("*.html"), key=lambda p: p.stat().st_mtime)
    dom, shot = render(report, tmp_path)
    assert "published dataset version 2" in dom
    for sample in SAMPLES[3:]:
        assert f"<code>{sample.name}</code>" in dom
    assert dom.count('class="new"') == 4 and dom.count('class="returning"') == 4  # four snapshot dates
    for day in ("2025-03-11", "2025-03-14", "2025-03-17", "2025-03-21"):
        assert f">{day}</text>" in dom
    assert pixels_near(shot, NEW) > 3000 and pixels_near(shot, RETURNING) > 1000  # the bars are painted
    assert pixels_near(shot, "#f4f6f8") > 2000  # and the table's header row
    checks = sum(len(json.loads((suites_dir() / f"{s}.json").read_text())["expectations"]) for s in PUBLISH_SUITES)
    assert f"{checks} of {checks} checks of the publish gate passed" in dom
    # Entity resolution's one decision on the sample that was not an exact repeat: D4RL and D5RL,
    # kept apart and listed for review (they come together in this version's files).
    assert "<h2>Entity resolution</h2>" in dom and dom.count("numbers_differ") == 1
    assert re.search(r"<td>d[45]rl datasets for deep data driven[^<]*</td>", dom)
    for suite in PUBLISH_SUITES:
        assert f"<code>{suite}</code>" in dom


def test_the_release_page_shows_every_release_with_its_files(warehouse: Path, tmp_path: Path) -> None:
    dom, shot = render(warehouse / "releases" / "index.html", tmp_path)
    assert dom.index('id="version=0002"') < dom.index('id="version=0001"')  # newest first
    feeds = dom[dom.index('<p id="feeds">') : dom.index("</p>", dom.index('<p id="feeds">'))]
    assert '<a href="feed.atom">Atom feed</a>' in feeds and '<a href="feed.json">JSON Feed</a>' in feeds
    assert 'rel="alternate" type="application/atom+xml"' in dom  # what feed readers look for
    assert dom.count(">papers</a>") == 2
    assert ">281</td>" in dom and ">374</td>" in dom and ">215</td>" in dom
    assert pixels_near(shot, "#f4f6f8") > 4000  # two tables' header rows
    assert pixels_near(shot, "#111111", tolerance=40) > 5000  # text
