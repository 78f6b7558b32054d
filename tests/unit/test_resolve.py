"""Entity resolution on small inline cases: every joining rule, every guard, the batch among
itself, and the same result in any row order (paperfeed.curate.resolve)."""

from __future__ import annotations

import itertools

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import GAMES, SCALING, VIDEO, VIDEO_REVISED, abstract
from paperfeed.curate.blocking import Holding
from paperfeed.curate.resolve import Resolution, compare, resolve_against
from paperfeed.curate.similarity import RULES, abstract_score, abstract_words, cut_short, title_score, titles_conflict
from paperfeed.prepare.identify import stable_hash, title_key

MOTION = "Motion Prompting: Controlling Video Generation with Motion Trajectories"
RLHF = (
    "Reinforcement learning from human feedback aligns chat models with what people want, yet its training is "
    "unstable and poorly understood. We dissect proximal policy optimisation for this setting, find which parts of "
    "the recipe matter, and propose a variant that trains stably across model sizes."
)


def known(*papers: tuple[str, str | None]) -> pl.DataFrame:
    """Known papers with today's ids (the hash of their title key)."""
    keys = [title_key(t) for t, _ in papers]
    return pl.DataFrame(
        {"paper_id": [stable_hash(k) for k in keys], "title_key": keys, "abstract": [a for _, a in papers]},
        schema={"paper_id": pl.String, "title_key": pl.String, "abstract": pl.String},
    )


def records(*recs: tuple[str, str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"title": [t for t, _ in recs], "title_key": [title_key(t) for t, _ in recs], "abstract": [a for _, a in recs]},
        schema={"title": pl.String, "title_key": pl.String, "abstract": pl.String},
    )


def one(old: tuple[str, str | None], new: tuple[str, str | None]) -> tuple[dict[str, object], Resolution]:
    resolution = resolve_against(records(new), known(old))
    return resolution.decisions.row(0, named=True), resolution


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ("GPT-4 Technical Report", "GPT-5 Technical Report", "numbers_differ"),
        ("D4RL: Datasets for Deep Data-Driven RL", "D5RL: Datasets for Deep Data-Driven RL", "numbers_differ"),
        ("StarCraft II: A New Challenge", "StarCraft III: A New Challenge", "numbers_differ"),
        ("Llama: Open Foundation Models", "Llama 2: Open Foundation Models", "sequel_number"),
        ("StarCraft: A New Challenge", "StarCraft II: A New Challenge", "sequel_number"),
        ("Secrets of RLHF Part I: PPO", "Secrets of RLHF Part II: PPO", "part_differs"),
        ("Secrets of RLHF: PPO", "Secrets of RLHF, Part II: PPO", "part_added"),
        ("Tülu 3: Pushing Frontiers", "TÜLU 3 - pushing frontiers", None),
        ("Kimi k1.5: Scaling RL", "Kimi K1.5 : scaling RL", None),
        ("Secrets of RLHF Part II", "Secrets of RLHF, part 2", None),
        ("Video Models Are Zero-Shot Learners", "Video models are zero shot learners.", None),
        ("Parting Words of a Vision Transformer", "Parting Words of a Vision Transformer", None),
    ],
)
def test_title_guards(a: str, b: str, reason: str | None) -> None:
    assert titles_conflict(a, b) == reason
    assert titles_conflict(b, a) == reason


def test_scores() -> None:
    assert title_score(title_key("Interactive Videos"), title_key("Interactive Video")) >= RULES.similar_title
    video, revised, scaling = (abstract_words(t) for t in (VIDEO, VIDEO_REVISED, SCALING))
    assert abstract_score(video, video) == 1.0
    assert RULES.similar_abstract <= abstract_score(video, revised) < RULES.same_abstract
    assert abstract_score(video, scaling) < RULES.different_abstract
    assert cut_short(abstract_words(VIDEO[:190]), video) and cut_short(video, abstract_words(VIDEO[:190]))  # cut in a word
    assert not cut_short(abstract_words(VIDEO[:40]), video)  # too short to be evidence
    assert not cut_short(revised, video)


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        # A reworded title, the same abstract.
        ((MOTION, VIDEO), ("Turning Photographs into Interactive Videos with Motion Prompts", VIDEO), "same_abstract"),
        # A one-letter typo; the abstract revised too.
        (("Interactive Videos", VIDEO), ("Interactive Video", VIDEO_REVISED), "similar_title"),
        # Case, spacing and punctuation.
        ((MOTION, VIDEO), ("motion prompting -  controlling VIDEO generation, with motion trajectories.", VIDEO), "same_title"),
        # A revised abstract under the same title.
        ((MOTION, VIDEO), (MOTION, VIDEO_REVISED), "same_title"),
        # An abstract cut short (in a word), either way round.
        ((MOTION, VIDEO), (MOTION, VIDEO[:190]), "same_title"),
        ((MOTION, VIDEO[:190]), (MOTION, VIDEO), "same_title"),
        # A title reworded a little (0.94) and a revised abstract that corroborates it.
        ((MOTION, VIDEO), ("Motion Prompting: Controlling Video Generation with Motion Tracks", VIDEO_REVISED), "similar_title_corroborated"),
        # The same title without an abstract: no evidence against, as today.
        ((MOTION, VIDEO), (MOTION, None), "same_title"),
    ],
)
def test_joins(old: tuple[str, str], new: tuple[str, str | None], rule: str) -> None:
    decision, resolution = one(old, new)
    assert decision["rule"] == rule
    assert decision["resolved_id"] == stable_hash(title_key(old[0])) and decision["is_new_paper"] is False
    assert decision["matched_title_key"] == title_key(old[0])
    assert decision["abstract_cut"] == ({old[1], new[1]} == {VIDEO, VIDEO[:190]})
    assert resolution.candidates.is_empty()


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        # A sequel number, with an abstract close enough that only the guard keeps them apart.
        ((MOTION, VIDEO), ("Motion Prompting 2: Controlling Video Generation with Motion Trajectories", VIDEO_REVISED), "sequel_number"),
        (("Secrets of RLHF Part I: PPO", RLHF), ("Secrets of RLHF Part II: PPO", RLHF.replace("proximal policy", "reward")), "part_differs"),
        (("Secrets of RLHF: PPO", RLHF), ("Secrets of RLHF Part II: PPO", RLHF), "part_added"),
        (("GPT-4 Technical Report", SCALING), ("GPT-5 Technical Report", SCALING), "numbers_differ"),
        # One word changed (title score 0.957) and a different abstract.
        ((MOTION, VIDEO), ("Motion Prompting: Controlling Image Generation with Motion Trajectories", GAMES), "different_abstracts"),
        # The same short generic title, unrelated abstracts.
        (("Scaling Laws", SCALING), ("Scaling laws", GAMES), "different_abstracts"),
        # Neither the titles (0.81) nor the abstracts (0.71) decide: in between.
        (("Scaling Laws for Neural Language Models", VIDEO), ("Scaling Laws for Neural Retrieval Models", VIDEO_REVISED), "in_between"),
    ],
)
def test_kept_apart_and_listed(old: tuple[str, str], new: tuple[str, str], reason: str) -> None:
    decision, resolution = one(old, new)
    old_id = stable_hash(title_key(old[0]))
    assert decision["is_new_paper"] is True and decision["rule"] is None and decision["resolved_id"] != old_id
    [candidate] = resolution.candidates.rows(named=True)
    assert candidate["reason"] == reason and candidate["other_paper_id"] == old_id
    verdict = compare(title_key(new[0]), new[1], title_key(old[0]), old[1])
    assert (candidate["title_score"], candidate["abstract_score"]) == (verdict.title_score, verdict.abstract_score)


def test_same_title_different_work_gets_its_own_id() -> None:
    """Today both would be stable_hash('scaling laws'): the second work gets the hash of title and abstract."""
    decision, _ = one(("Scaling Laws", SCALING), ("Scaling Laws", GAMES))
    assert decision["resolved_id"] == stable_hash("scaling laws\n" + GAMES)


def test_a_batch_resolves_among_itself() -> None:
    batch = records(
        ("Interactive Videos", VIDEO),
        ("Interactive Video", VIDEO_REVISED),
        ("Interactive Videos 2", VIDEO_REVISED),
        ("Scaling Laws", SCALING),
        ("Scaling Laws", GAMES),
    )
    decisions = resolve_against(batch, known()).decisions
    ids = decisions["resolved_id"].to_list()
    # The representative of a new group is its smallest (title_key, abstract): "interactive video".
    assert ids[0] == ids[1] == stable_hash("interactive video")
    assert len(set(ids)) == 4 and decisions["is_new_paper"].all()
    assert decisions["rule"].to_list() == ["similar_title", "similar_title", None, None, None]


def test_a_chain_never_joins_what_a_guard_keeps_apart() -> None:
    """'Scaling Laws' three times: the middle abstract holds both others (similar to each), which
    are clearly different work. The middle joins one of them; the other stays apart."""
    batch = records(("Scaling Laws", SCALING), ("Scaling Laws", GAMES), ("Scaling Laws", f"{SCALING} {GAMES}"))
    resolution = resolve_against(batch, known())
    scaling, games, both = resolution.decisions["resolved_id"].to_list()
    assert scaling != games and both in (scaling, games)
    assert sorted(resolution.candidates["reason"].to_list()) == ["conflicts_with_group", "different_abstracts"]


def test_a_record_that_is_one_work_with_two_known_papers_merges_them() -> None:
    """Same title as one known paper, same abstract as another: had all three arrived together they
    would be one paper, so the two known papers merge (the smaller id stands for the group here;
    curation then gives the paper the id of its earliest title)."""
    other = "Photographs Made Interactive with Motion Prompts"
    old = known((MOTION, VIDEO_REVISED), (other, VIDEO))
    resolution = resolve_against(records((MOTION, VIDEO)), old)
    ids = sorted(stable_hash(title_key(t)) for t in (MOTION, other))
    assert resolution.decisions["resolved_id"].to_list() == [ids[0]]
    assert resolution.merges == {ids[1]: ids[0]}
    assert resolution.candidates.is_empty()


def test_two_known_papers_a_guard_keeps_apart_are_not_merged_through_a_record() -> None:
    """A record close to a known paper and to its sequel joins one; the sequel stays apart (listed)."""
    sequel = "Motion Prompting 2: Controlling Video Generation with Motion Trajectories"
    old = known((MOTION, VIDEO_REVISED), (sequel, VIDEO))
    resolution = resolve_against(records((MOTION, VIDEO)), old)
    assert resolution.decisions["resolved_id"].to_list() == [stable_hash(title_key(MOTION))]
    assert resolution.merges == {}
    assert ("sequel_number", stable_hash(title_key(sequel))) in resolution.candidates.select("reason", "other_paper_id").rows()


POOL = [
    (MOTION, VIDEO), ("Motion Prompting 2: Controlling Video Generation with Motion Trajectories", VIDEO),
    ("Photographs Made Interactive with Motion Prompts", VIDEO), ("Interactive Videos", VIDEO),
    ("Interactive Video", VIDEO_REVISED), (MOTION, VIDEO[:190]), ("Scaling Laws", SCALING), ("Scaling laws", GAMES),
    ("Secrets of RLHF Part I: PPO", RLHF), ("Secrets of RLHF Part II: PPO", RLHF), ("GPT-4 Technical Report", SCALING),
    ("GPT-5 Technical Report", SCALING), ("Secrets of RLHF", None),
]  # fmt: skip
KNOWN = known((MOTION, VIDEO_REVISED), ("Scaling Laws", SCALING), ("Secrets of RLHF, Part I: PPO", RLHF))


def canonical(resolution: Resolution) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return resolution.decisions.sort(pl.all(), nulls_last=True).rows(), resolution.candidates.rows()


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(len(POOL))), st.permutations(range(KNOWN.height)))
def test_any_row_order_gives_the_same_result(order: list[int], known_order: list[int]) -> None:
    expected = canonical(resolve_against(records(*POOL), KNOWN))
    assert canonical(resolve_against(records(*(POOL[i] for i in order)), KNOWN[known_order])) == expected


def test_the_pool_resolves_as_expected() -> None:
    """The pool above, by hand: what joins what."""
    decisions = resolve_against(records(*POOL), KNOWN).decisions
    by_title = {(t, a): (d, r) for t, a, d, r in decisions.select("title", "abstract", "resolved_id", "rule").rows()}
    motion, rlhf = stable_hash(title_key(MOTION)), stable_hash(title_key("Secrets of RLHF, Part I: PPO"))
    assert by_title[(MOTION, VIDEO)] == (motion, "same_title") and by_title[(MOTION, VIDEO[:190])] == (motion, "same_title")
    assert by_title[("Photographs Made Interactive with Motion Prompts", VIDEO)][0] == motion
    assert by_title[("Secrets of RLHF Part I: PPO", RLHF)] == (rlhf, "same_title")
    # Every record with the video abstract is the motion paper (same abstract, directly or through
    # another record), except the sequel.
    assert {by_title[("Interactive Videos", VIDEO)][0], by_title[("Interactive Video", VIDEO_REVISED)][0]} == {motion}
    sequel = by_title[("Motion Prompting 2: Controlling Video Generation with Motion Trajectories", VIDEO)]
    assert sequel[0] != motion and sequel[1] is None
    # The same abstract under a title with a number ("GPT-4") and one without ("Scaling Laws"): the
    # guards win over the same-abstract rule, so they stay apart (and are listed).
    assert by_title[("GPT-4 Technical Report", SCALING)][0] != stable_hash("scaling laws")
    # motion, its sequel, scaling laws twice, RLHF part I and II, GPT-4, GPT-5, "Secrets of RLHF" (no abstract).
    assert len({d for d, _ in by_title.values()}) == 9


def same_as_over_the_whole_history(new: pl.DataFrame, known_papers: pl.DataFrame) -> Resolution:
    """resolve() over the index a run builds (the blocks the records reach) decides exactly as
    over the index of every known paper."""
    from paperfeed.curate.blocking import build_index
    from paperfeed.curate.resolve import resolve

    reached = resolve(new, build_index(known_papers, new.select("title_key", "abstract").unique()))
    assert canonical(reached) == canonical(resolve(new, build_index(known_papers)))
    assert reached.merges == resolve(new, build_index(known_papers)).merges
    # And through a key index of the known abstracts (storage/key_index.py), as a warehouse's run does.
    assert build_index(known_papers, new.select("title_key", "abstract").unique(), holding=key_index_of(known_papers)) == build_index(
        known_papers, new.select("title_key", "abstract").unique()
    )
    return reached


def key_index_of(known_papers: pl.DataFrame) -> Holding:
    """An abstract key index listing every known abstract, over frames."""
    from paperfeed.curate.blocking import abstract_key_hashes
    from paperfeed.prepare.identify import map_distinct
    from paperfeed.storage import key_index

    versions = map_distinct(known_papers.filter(pl.col("abstract").is_not_null()), "abstract", "abstract_hash", stable_hash)
    listed = abstract_key_hashes(versions.select("abstract_hash", "abstract").unique()).lazy()
    return lambda keys: key_index.holding(listed, versions.lazy(), keys)


ACCENTED = "Ge\u0301ne\u0301ration vide\u0301o controle\u0301e par le mouvement. " + VIDEO  # NFKC composes these


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(range(len(POOL) + 2)), min_size=1, max_size=6, unique=True))
def test_the_index_of_a_run_decides_as_the_index_of_the_whole_history(picked: list[int]) -> None:
    pool = [*POOL, ("Génération vidéo contrôlée", ACCENTED), ("Generation video controlee", ACCENTED[:150])]
    history = pl.concat([KNOWN, known(("Génération Vidéo Contrôlée", ACCENTED), ("Interactive Videos", VIDEO_REVISED))])
    same_as_over_the_whole_history(records(*(pool[i] for i in picked)), history)


def test_a_block_too_big_to_compare_is_dropped_in_the_index_of_a_run_too() -> None:
    """The title words 'scaling laws variant', held by more known papers than max_block, bring
    none of them: in the index of the whole history, and in the index a run builds."""
    from paperfeed.curate.blocking import build_index

    crowd = known(*((f"Scaling Laws Variant {n}", abstract(f"topic{n}")) for n in range(RULES.max_block + 1)))
    new = records(("Scaling Laws Variant Study", abstract("elsewhere")))
    crowded = "t:laws scali varia"
    assert crowded in build_index(crowd.head(RULES.max_block)).blocks  # one paper fewer: a block
    assert crowded not in build_index(crowd).blocks
    reached = build_index(crowd, new.select("title_key", "abstract"))
    assert crowded not in reached.blocks and reached.paper_ids == []
    same_as_over_the_whole_history(new, crowd)


def test_a_boilerplate_sentence_held_by_too_many_papers_brings_none_of_them() -> None:
    """A sentence shared by more known papers than max_block ('the code will be made publicly
    available ...') is no block, in the index of a run as in the index of the whole history: not
    even for a paper the run's records reach through another key of its own."""
    from paperfeed.curate.blocking import _abstract_members, build_index

    boilerplate = "The code and the trained models will be made publicly available on our project page."
    crowd = known(*((f"Topic {n} Study", f"{abstract(f'topic{n}')} {boilerplate}") for n in range(RULES.max_block + 1)))
    sentence = "s:the code and the trained models will be made publicly available on our project page"
    assert sentence in build_index(crowd.head(RULES.max_block)).blocks  # one paper fewer: a block
    assert sentence not in build_index(crowd).blocks
    assert _abstract_members(crowd.lazy().select("paper_id", "abstract"), {sentence}, RULES).is_empty()
    assert _abstract_members(crowd.head(RULES.max_block).lazy().select("paper_id", "abstract"), {sentence}, RULES).height == RULES.max_block
    only_boilerplate = records(("An Unrelated Survey", f"{abstract('elsewhere')} {boilerplate}"))
    assert build_index(crowd, only_boilerplate.select("title_key", "abstract")).paper_ids == []
    same_as_over_the_whole_history(only_boilerplate, crowd)
    # A record sharing another sentence with the first paper of the crowd reaches that paper, and
    # a second record with the boilerplate is still compared with none of the crowd through it.
    both = records(("A Survey of Topic Zero", abstract("topic0")), ("An Unrelated Survey", f"{abstract('elsewhere')} {boilerplate}"))
    reached = build_index(crowd, both.select("title_key", "abstract"))
    assert sentence not in reached.blocks and len(reached.paper_ids) == 1
    same_as_over_the_whole_history(both, crowd)


def test_a_record_without_a_title_key_is_refused_in_words() -> None:
    new = pl.DataFrame({"title_key": [None], "abstract": [VIDEO]}, schema={"title_key": pl.String, "abstract": pl.String})
    with pytest.raises(ValueError, match="every new record needs a title_key"):
        resolve_against(new, KNOWN)


def title_block_keys(key: str, frequency: dict[str, int]) -> list[str]:
    """The title blocking rule written out plainly, one title at a time (what title_block_frame
    does for many at once): the exact key, and the triples among the rare_tokens rarest words
    (first five letters, stop words dropped; ties by the word), pairs for three, words for one or two."""
    from paperfeed.curate.blocking import _STOP

    words = sorted({token[:5] for token in key.split(" ") if token and token not in _STOP})
    rarest = sorted(words, key=lambda t: (frequency.get(t, 0), t))[: RULES.rare_tokens]
    size = min(3, max(1, len(rarest) - 1))
    return [f"=:{key}", *(f"t:{' '.join(c)}" for c in itertools.combinations(sorted(rarest), size))]


WORDS = ["the", "of", "a", "video", "videos", "videogame", "scaling", "laws", "law", "génération", "model", "models", "x", "rl", "ab"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=9).map(" ".join), min_size=1, max_size=12, unique=True))
def test_the_title_keys_of_many_titles_at_once_are_each_titles_own(titles: list[str]) -> None:
    """title_block_frame (every title at once) gives each title exactly the keys of the rule
    written out one title at a time: the rarest words by the same counts, ties by the word."""
    from paperfeed.curate.blocking import title_block_frame, token_frequency

    frequency = token_frequency(pl.Series(titles[: len(titles) // 2 + 1]))  # some words unknown (count 0)
    frame = title_block_frame(pl.DataFrame({"title_key": titles}), frequency)
    at_once = {title: sorted(group["key"].to_list()) for (title,), group in frame.group_by("title_key")}
    assert at_once == {title: sorted(title_block_keys(title, frequency)) for title in titles}
