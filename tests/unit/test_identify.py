"""Identity: a stable paper_id from the title, whatever its cosmetics; content ids for snapshots."""

from __future__ import annotations

import hashlib

import pytest

from helpers import abstract, prepared
from paperfeed.prepare.identify import stable_hash, title_key

TITLE = "Meta-World: A Benchmark and Evaluation for Multi-Task and Meta Reinforcement Learning"


@pytest.mark.parametrize(
    "variant",
    [
        TITLE.upper(),
        TITLE.lower(),
        TITLE + ".",
        TITLE.replace(" ", "  "),
        TITLE.replace(" ", "\u00a0"),
        TITLE.replace("-", " - "),
        "  " + TITLE + " ",
        TITLE.replace("Meta-World", "Ｍeta-World"),  # full-width letter (NFKC)
    ],
)
def test_cosmetic_title_variants_share_the_paper_id(variant: str) -> None:
    assert stable_hash(title_key(variant)) == stable_hash(title_key(TITLE))


def test_different_titles_get_different_ids() -> None:
    assert stable_hash(title_key("Learning to Walk")) != stable_hash(title_key("Learning to Run"))


def test_paper_id_is_the_sha256_of_the_title_key() -> None:
    # Ids are published: the definition is part of the contract, not an implementation detail.
    key = "meta world a benchmark and evaluation for multi task and meta reinforcement learning"
    assert title_key(TITLE) == key
    assert stable_hash(title_key(TITLE)) == hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def test_latex_and_unicode_spellings_of_a_title_are_one_paper() -> None:
    latex = prepared("Mar 14", [('T\\"ULU 3: Pushing Frontiers', abstract("tulu"))])
    unicode = prepared("Mar 15", [("TÜLU 3: Pushing Frontiers", abstract("tulu"))])
    assert latex.records["paper_id"].to_list() == unicode.records["paper_id"].to_list()


def test_re_encoded_delivery_has_the_same_content_id_but_another_snapshot_id() -> None:
    records = [("Paper One", abstract("one")), ("Paper Two", abstract("two"))]
    original = prepared("Mar 14", records, "a.txt")
    again = prepared("Mar 14", records, "b.txt", crlf=True, bom=True, trailing_spaces=True, final_newline=True)
    assert original.content_id == again.content_id
    assert original.snapshot_id != again.snapshot_id


def test_another_date_with_the_same_records_is_other_content() -> None:
    records = [("Paper One", abstract("one"))]
    assert prepared("Mar 14", records).content_id != prepared("Mar 15", records).content_id
