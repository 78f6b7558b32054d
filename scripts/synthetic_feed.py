"""A synthetic feed of any size, made from the real snapshots' records, that behaves like the real
feed: papers arrive, stay on the page for a few days at shifting ranks and leave; some abstracts
are revised, some files are delivered twice (another encoding, other line endings), some arrive
days late, some are cut short, and now and then a file is no feed at all.

    .venv/bin/python scripts/synthetic_feed.py OUT_FOLDER --files 400 [--per-file 70] [--seed 1]

Used by scripts/benchmark.py and by the long-history test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from paperfeed.config import SAMPLE_FEED
from paperfeed.prepare.identify import title_key

HEADER = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nbyAK and the research community\n\n"
START = dt.date(2025, 1, 6)
WORD = re.compile(r"[A-Za-z]+")


@dataclass
class Paper:
    title: str
    abstract: str
    first_day: int
    last_day: int
    revised_on: int | None = None
    revision: str = ""


@dataclass
class Feed:
    files: int = 0
    records: int = 0
    bytes: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


def sample_records() -> list[tuple[str, str]]:
    """(title, abstract) of every distinct paper in the bundled sample feed."""
    found: dict[str, str] = {}
    for path in sorted(SAMPLE_FEED.glob("*.txt")):
        blocks = [b.strip() for b in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if b.strip()]
        body = blocks[5:]
        for title, abstract in zip(body[0::2], body[1::2], strict=False):
            if len(abstract) > 300 and title not in found:
                found[title] = abstract
    return sorted(found.items())


def reworded(text: str, vocabulary: list[str], rng: random.Random, share: float = 0.6) -> str:
    """`text` with about `share` of its words of four letters or more swapped for words of the
    sample's vocabulary. Made from a real paper, it reads like another one: two papers made from
    one model share about 3% of their abstracts' word 3-shingles (different real papers: at most
    4.7%) and are not near-duplicates to entity resolution, as papers on the real feed are not."""
    return WORD.sub(lambda m: rng.choice(vocabulary) if len(m.group()) >= 4 and rng.random() < share else m.group(), text)


def write_feed(out: Path, files: int, per_file: int = 70, seed: int = 1) -> Feed:
    """Write `files` snapshot files (about `per_file` records each) into `out`, named
    <date>/<n>.txt, their modification times in arrival order. Returns what was written."""
    rng = random.Random(seed)
    base = sample_records()
    vocabulary = sorted({w for title, abstract in base for w in WORD.findall(f"{title} {abstract}") if len(w) >= 4})
    # Every paper's title is its own (folded), as on the real feed: a short title reworded often
    # comes out as another's, and papers sharing a title are all compared with one another.
    titles = {title_key(title) for title, _ in base}
    papers: list[Paper] = []
    feed = Feed()
    arrivals: list[tuple[float, Path, bytes, str, int]] = []
    on_page: list[Paper] = []  # the papers not gone yet, in arrival order
    day = -1
    while len(arrivals) < files + 10:  # a few more than asked: the latest arrivals are cut off
        day += 1
        on_page = [p for p in on_page if p.last_day >= day]
        # New papers arrive every day; each stays on the page for one to ten days.
        while len(on_page) < per_file:
            title, abstract = base[len(papers) % len(base)]
            k = len(papers)
            if k >= len(base):  # another work, as different from its model as two real papers are
                words = random.Random(seed * 1_000_003 + k)
                model, tries = title, 0
                while title_key(title) in titles:
                    tries += 1
                    if tries % 20 == 0:  # too few long words to reword it apart: one word more
                        model = f"{model} {words.choice(vocabulary)}"
                    title = reworded(model, vocabulary, words)
                titles.add(title_key(title))
                abstract = reworded(abstract, vocabulary, words)
            paper = Paper(
                title=title,
                abstract=abstract,
                first_day=day,
                last_day=day + rng.choice([0, 0, 1, 1, 2, 3, 4, 6, 9]),
            )
            if rng.random() < 0.08 and paper.last_day > day:
                paper.revised_on = rng.randint(day + 1, paper.last_day)
                paper.revision = f" In a revised version, we add experiment {rng.randint(1, 99)}."
            papers.append(paper)
            on_page.append(paper)
        listed = list(on_page)
        rng.shuffle(listed)
        listed.sort(key=lambda p: (day - p.first_day) + rng.random() * 3)  # newer papers rank higher, loosely
        records = [(p.title, p.abstract + (p.revision if p.revised_on is not None and day >= p.revised_on else "")) for p in listed]
        date = START + dt.timedelta(days=day)
        text = HEADER + date.strftime("%b %d") + "\n\n" + "\n\n".join(f"{t}\n\n{a}" for t, a in records) + "\n"
        kind = "snapshot"
        if rng.random() < 0.03:  # cut short mid-abstract
            text, kind = text[: len(text) - rng.randint(50, 400)], "truncated"
        late = rng.random() < 0.05  # arrives up to a week late
        arrived = (day + (rng.randint(1, 7) if late else 0)) * 86400.0 + rng.random()
        arrivals.append((arrived, Path(f"{date:%Y-%m-%d}") / "0.txt", text.encode("utf-8"), "late" if late else kind, len(records)))
        roll = rng.random()
        if roll < 0.05:  # delivered again: other line endings, a BOM, or Latin-1 where it can be
            again = text.replace("\n", "\r\n").encode("utf-8") if roll < 0.03 else b"\xef\xbb\xbf" + text.encode("utf-8")
            arrivals.append((arrived + 3600, Path(f"{date:%Y-%m-%d}") / "1.txt", again, "redelivery", len(records)))
        elif roll < 0.09:  # not a feed at all
            junk = b"<!DOCTYPE html><html><body>Too many requests</body></html>" if roll < 0.07 else HEADER.encode()
            arrivals.append((arrived + 60, Path(f"{date:%Y-%m-%d}") / "error.html", junk, "rejected", 0))
    arrivals.sort(key=lambda a: a[0])
    now = dt.datetime.now(dt.UTC).timestamp()
    for arrived, name, data, kind, n_records in arrivals[:files]:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stamp = now - (day + 8) * 86400 + arrived
        os.utime(path, (stamp, stamp))
        feed.files += 1
        feed.bytes += len(data)
        feed.records += n_records
        feed.kinds[kind] = feed.kinds.get(kind, 0) + 1
    return feed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--per-file", type=int, default=70)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    feed = write_feed(args.out, args.files, args.per_file, args.seed)
    print(f"{feed.files} files, about {feed.records:,} records, {feed.bytes / 1e6:.1f} MB: {feed.kinds}")


if __name__ == "__main__":
    main()
