"""The abstract key index: which published abstracts hold which abstract block keys, by hash, so
that matching reads the few abstracts a run's records can reach instead of folding every known
abstract into its sentences in every run (curate/blocking.py).

One Delta table, `index/abstract_keys_<keying>`: a row (abstract_hash, key_hash) per block key
of each abstract in `paper_versions` (key_hash: blocking.key_hash, 64 bits of the key's sha256),
and a row with a null key_hash for an abstract without one.
It is not part of any dataset version: its rows are a function of the abstract alone, so a row
is true whenever it was written (a run that died after writing it, or that published nothing,
leaves rows that are still true), and a dataset version names abstracts by their hash. Readers
never trust it to be complete: an abstract of `paper_versions` it does not list yet (written by a
paperfeed before it, or while it was being filled) is always searched, so matching decides
exactly as without it. Each publishing run lists what is missing (its own new abstracts, and any
gap) before it commits. A hash shared by another key only brings one more abstract to search.
"""

from __future__ import annotations

import polars as pl
from deltalake import CommitProperties, DeltaTable

from paperfeed.curate.blocking import abstract_key_hashes, key_hash
from paperfeed.storage.delta import append

SCHEMA = pl.Schema({"abstract_hash": pl.String, "key_hash": pl.Int64})


def holding(listed: pl.LazyFrame | None, versions: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
    """listed: the index's rows (a scan); versions: paper_versions' paper_id, abstract_hash,
    abstract (a scan) -> paper_id, abstract of the versions whose abstract the index lists under
    one of these keys' hashes, or does not list at all."""
    if listed is None:
        return versions.select("paper_id", "abstract")
    wanted = pl.LazyFrame({"key_hash": sorted({key_hash(k) for k in keys})}, schema={"key_hash": pl.Int64})
    reached = listed.join(wanted, on="key_hash", how="semi").select("abstract_hash")
    # The hashes first, on their own: in one plan with the read below, Polars would cache the
    # versions scan the two share, every abstract with it. Then a filter the Parquet reader applies
    # itself (`is_in`), so it decodes the abstracts of the rows it keeps only; a semi join reads
    # every abstract first (at 250,000 papers, for 49,000 abstracts: 13 MiB over the result, not 620).
    searched = pl.concat([reached, unlisted(listed, versions)]).unique().collect(engine="streaming")
    return versions.filter(pl.col("abstract_hash").is_in(searched["abstract_hash"].implode())).select("paper_id", "abstract")


def unlisted(listed: pl.LazyFrame | None, hashes: pl.LazyFrame) -> pl.LazyFrame:
    """The distinct abstract_hash values of `hashes` that the index (its rows) does not list."""
    distinct = hashes.select("abstract_hash").unique()
    return distinct if listed is None else distinct.join(listed.select("abstract_hash").unique(), on="abstract_hash", how="anti")


def cover(index: DeltaTable | str, texts: pl.DataFrame, meta: CommitProperties) -> DeltaTable:
    """List these abstracts (abstract_hash, abstract, none of them listed yet) in the index (its
    handle, or its URI: then created): one append; the handle, up to date."""
    return append(abstract_key_hashes(texts).cast(SCHEMA), index, meta)
