"""Entity resolution's cost per new record as the history grows: figures, never a verdict.

    .venv/bin/python scripts/bench_resolve.py [--sizes 1000 100000] [--new 1000] [--repeat 3] [--seed 1]

Known papers are synthetic but shaped like the sample feed: titles of 5-11 words and abstracts of
8-12 sentences of 12-24 words, words drawn from the five real snapshots with their real
frequencies (seeded). The smaller history is the beginning of the larger one. The new records are
the same at every size: 25% exact repeats of a known paper, 15% a one-letter typo in the title,
10% the title's words reordered and one dropped (same abstract), 10% one sentence of the abstract
rewritten, 5% the abstract cut short in a word, 5% a sequel ("X 2: ..."), 30% new papers.
Each resolve() is timed best of --repeat, over the index a run builds (the blocks the new records
reach), and checked to decide as over the index of every known paper; building each index is
shown apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import Counter

import polars as pl

from paperfeed.config import SAMPLE_FEED
from paperfeed.curate.blocking import block_keys, build_index
from paperfeed.curate.resolve import resolve
from paperfeed.model.inputs import LandingFile, RawSnapshot
from paperfeed.prepare.identify import stable_hash, title_key
from paperfeed.prepare.snapshot import prepare_snapshots


def vocabulary() -> tuple[list[str], list[str]]:
    """Every word occurrence of the real titles and abstracts (sampling them keeps real frequencies)."""
    files = sorted(SAMPLE_FEED.glob("*.txt"))
    arrived = dt.datetime.now(dt.UTC)
    prepared = prepare_snapshots([(RawSnapshot(LandingFile(p, p.name, arrived), p.read_bytes()), 2025) for p in files])
    records = pl.concat([s.records for s in prepared])
    titles = [w.strip(":,.?") for t in records["title"].to_list() for w in t.split()]
    abstracts = [w.strip(":,.?;()") for a in records["abstract"].to_list() for w in a.split()]
    return [w for w in titles if w], [w for w in abstracts if w]


def paper(rng: random.Random, title_words: list[str], abstract_words: list[str]) -> tuple[str, str]:
    title = " ".join(rng.choices(title_words, k=rng.randint(5, 11)))
    sentences = [" ".join(rng.choices(abstract_words, k=rng.randint(12, 24))) for _ in range(rng.randint(8, 12))]
    return title, " ".join(s[:1].upper() + s[1:] + "." for s in sentences)


def variant(rng: random.Random, kind: str, title: str, abstract: str, fresh: tuple[str, str]) -> tuple[str, str]:
    words, sentences = title.split(), abstract.split(". ")
    if kind == "typo":
        i = max(range(len(words)), key=lambda k: (len(words[k]), k))
        j = rng.randrange(1, len(words[i])) if len(words[i]) > 1 else 0
        words[i] = words[i][:j] + words[i][j + 1 :]
        return " ".join(words), abstract
    if kind == "reworded":
        rng.shuffle(words)
        return " ".join(words[1:]), abstract
    if kind == "revised":
        sentences[rng.randrange(len(sentences))] = fresh[1].split(". ")[0]
        return title, ". ".join(sentences)
    if kind == "cut":
        return title, abstract[: int(len(abstract) * 0.6)]
    if kind == "sequel":
        return f"{words[0]} 2: {' '.join(words[1:])}", fresh[1]
    return title, abstract  # repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100000])
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=70, help="records of a run like the feed's (a snapshot's), for the index time")
    args = parser.parse_args()

    title_words, abstract_words = vocabulary()
    rng = random.Random(args.seed)
    papers = [paper(rng, title_words, abstract_words) for _ in range(max(args.sizes))]
    keys = [title_key(t) for t, _ in papers]
    known_all = pl.DataFrame({"paper_id": [stable_hash(k) for k in keys], "title_key": keys, "abstract": [a for _, a in papers]})
    kinds = ["repeat"] * 25 + ["typo"] * 15 + ["reworded"] * 10 + ["revised"] * 10 + ["cut"] * 5 + ["sequel"] * 5 + ["new"] * 30
    new_rng, fresh_rng = random.Random(args.seed + 1), random.Random(args.seed + 2)
    rows = []
    for n in range(args.new):
        kind = kinds[n % len(kinds)]
        fresh = paper(fresh_rng, title_words, abstract_words)
        if kind == "new":
            rows.append(fresh)
        else:
            title, abstract = papers[new_rng.randrange(min(args.sizes))]  # in every history
            rows.append(variant(new_rng, kind, title, abstract, fresh))
    new = pl.DataFrame({"title_key": [title_key(t) for t, _ in rows], "abstract": [a for _, a in rows]})

    per_record = {}
    batch = new.head(args.batch)
    for size in args.sizes:
        known = known_all.head(size)
        started = time.perf_counter()
        whole = build_index(known)
        built_whole = time.perf_counter() - started
        started = time.perf_counter()
        index = build_index(known, new)
        built = time.perf_counter() - started
        started = time.perf_counter()
        build_index(known, batch)
        built_batch = time.perf_counter() - started
        compared = sum(len(index.candidates(keys)) for keys in block_keys(new, index.frequency)) / new.height
        best, resolution = float("inf"), None
        for _ in range(args.repeat):
            started = time.perf_counter()
            resolution = resolve(new, index)
            best = min(best, time.perf_counter() - started)
        assert resolution is not None
        over_whole = resolve(new, whole)
        assert resolution.decisions.equals(over_whole.decisions) and resolution.candidates.equals(over_whole.candidates)
        per_record[size] = best / new.height * 1e6
        rules = Counter(resolution.decisions["rule"].fill_null("new paper").to_list())
        print(
            f"known {size:>7,}: index of every paper {built_whole:6.2f} s, of the blocks {new.height} new records reach "
            f"{built:6.2f} s ({len(index.paper_ids):,} papers), {batch.height} records {built_batch:6.2f} s; resolve {new.height} new records: "
            f"{per_record[size]:7.1f} µs per record (best of {args.repeat}); {compared:.2f} known candidates "
            f"per record; {dict(sorted(rules.items()))}; {resolution.candidates.height} pairs listed"
        )
    small, large = min(args.sizes), max(args.sizes)
    print(f"per-record cost, {large:,} vs {small:,} known papers: {per_record[large] / per_record[small]:.2f}x")


if __name__ == "__main__":
    main()
