"""The abstract key index (storage/key_index.py): matching through it reaches exactly the known
papers that a search of every known abstract reaches, whatever the index lacks or holds besides."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from deltalake import DeltaTable

from helpers import copied, feed_bytes, ingest
from paperfeed.curate.blocking import KnownIndex, abstract_key_hashes, build_index
from paperfeed.storage import key_index
from paperfeed.storage.layout import WarehouseLayout
from paperfeed.storage.warehouse import KEY_INDEX, Warehouse


def records_reaching_by_abstract(warehouse: Warehouse) -> pl.DataFrame:
    """The known abstracts under new titles: cut short, with a sentence added, and as they are."""
    abstracts = pl.scan_delta(warehouse.table_uri("paper_versions")).select("abstract").collect()["abstract"].to_list()[:40]
    rows = [
        *((f"a retitled work number {n}", text) for n, text in enumerate(abstracts[:15])),
        *((f"a shortened work number {n}", text[: len(text) // 2]) for n, text in enumerate(abstracts[15:30])),
        *((f"an extended work number {n}", text + " We also add one sentence of our own here today.") for n, text in enumerate(abstracts[30:])),
    ]
    return pl.DataFrame(rows, schema={"title_key": pl.String, "abstract": pl.String}, orient="row")


def index_both_ways(warehouse: Warehouse, records: pl.DataFrame) -> tuple[KnownIndex, KnownIndex]:
    texts = warehouse.known_texts()
    assert texts.holding is not None
    return build_index(texts.frame, records, holding=texts.holding), build_index(texts.frame, records)


def unlisted(warehouse: Warehouse) -> int:
    versions = warehouse.handle("paper_versions")
    assert versions is not None
    return key_index.unlisted(warehouse._key_index_rows(), pl.scan_delta(versions)).collect().height


def test_a_publish_lists_every_abstract_and_the_index_reaches_what_a_search_of_all_does(sample_warehouse: Path) -> None:
    warehouse = Warehouse.at(sample_warehouse)
    assert unlisted(warehouse) == 0
    through, searched = index_both_ways(warehouse, records_reaching_by_abstract(warehouse))
    assert through == searched
    assert sum(key[:2] in ("o:", "s:") for key in through.blocks) >= 40  # the records reached papers by their abstracts


def test_an_index_that_lacks_abstracts_or_lists_others_changes_nothing_and_the_next_run_fills_it(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    copy = copied(sample_warehouse, tmp_path)
    warehouse = Warehouse.at(copy)
    records = records_reaching_by_abstract(warehouse)
    index = DeltaTable(WarehouseLayout.at(copy).index(KEY_INDEX))
    index.delete("abstract_hash < '8'")  # a gap: as if written by a paperfeed before the index, or cut short
    # Rows of abstracts no version holds (a run that died before it published), under the wanted keys.
    unpublished = pl.DataFrame({"abstract_hash": ["0" * 16], "abstract": [records["abstract"][0] + " Unpublished."]})
    abstract_key_hashes(unpublished).write_delta(index, mode="append")
    warehouse = Warehouse.at(copy)
    assert unlisted(warehouse) > 0
    through, searched = index_both_ways(warehouse, records)
    assert through == searched
    ingest(copy, ("later.txt", feed_bytes("Mar 20", [("A Paper Published Later", records["abstract"][0] + " Later.")])))
    assert unlisted(Warehouse.at(copy)) == 0
