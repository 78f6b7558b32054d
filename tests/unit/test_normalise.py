"""Normalisation: Unicode, white space, LaTeX and links, each seen on the real feed."""

from __future__ import annotations

import polars as pl
import pytest

from paperfeed.prepare.latex import latex_to_unicode
from paperfeed.prepare.links import extract_links
from paperfeed.prepare.normalise import normalise_records


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (r'we introduce T\"ULU 3, a family', "we introduce TÜLU 3, a family"),
        (r"a remarkable 11\% improvement", "a remarkable 11% improvement"),
        (r"an average 10.6\%-29.3\% improvement", "an average 10.6%-29.3% improvement"),
        (r"LiPO-{\lambda}, which", "LiPO-λ, which"),
        (r"na\"ive behavioral cloning", "naïve behavioral cloning"),
        (r"a model, \mone, designed", "a model, mone, designed"),  # unknown macro keeps its name
        (r"we present \collabvoyager, a novel", "we present collabvoyager, a novel"),
        (r"parameters (\eg adapters)", "parameters (e.g. adapters)"),
        (r"\'e \c{c} \"{u} \ss{} and \emph{this}", "é ç ü ß and this"),
    ],
)
def test_latex_becomes_unicode(raw: str, clean: str) -> None:
    assert latex_to_unicode(raw) == clean


def test_a_bare_percent_sign_is_text_not_a_latex_comment() -> None:
    assert latex_to_unicode(r"\mone reaches 50% of the rest") == "mone reaches 50% of the rest"


def test_normalise_keeps_raw_text_and_cleans_unicode_and_spacing() -> None:
    records = pl.DataFrame(
        {
            "title_raw": ["Cafe\u0301  Models\u00a0for T\\\"ULU "],
            "abstract_raw": ["A  study\tof caf\u00e9s; see https://github.com/a/b."],
        }
    )
    row = normalise_records(records).row(0, named=True)
    assert row["title"] == "Café Models for TÜLU"
    assert row["abstract"] == "A study of cafés; see https://github.com/a/b."
    assert row["title_raw"] == records["title_raw"][0]
    assert row["links"] == [{"url": "https://github.com/a/b", "kind": "code"}]


def links(text: str) -> list[tuple[str, str]]:
    result = pl.select(extract_links(pl.lit(text))).item()
    return [(link["url"], link["kind"]) for link in result]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Project website: https://rt-hierarchy.github.io.", [("https://rt-hierarchy.github.io", "project_page")]),
        ("videos (https://liruiw.github.io/gensim)", [("https://liruiw.github.io/gensim", "project_page")]),
        ("at [https://github.com/GitsSaikat/Pygen]", [("https://github.com/GitsSaikat/Pygen", "code")]),
        ("future researchhttps://github.com/InternLM/OREAL.", [("https://github.com/InternLM/OREAL", "code")]),
        ("released at https: //github.com/salesforce/CodeT5 .", [("https://github.com/salesforce/CodeT5", "code")]),
        ("project website: rlif-page.github.io", [("https://rlif-page.github.io", "project_page")]),
        ("open-sourced at: github.com/anyasims/edge-of-reach.", [("https://github.com/anyasims/edge-of-reach", "code")]),
        ("https://github.com/chauncygu/Safe-RL.git.", [("https://github.com/chauncygu/Safe-RL.git", "code")]),
        ("https://github.com/Facico/Dynamic-Logit-Fusion.)", [("https://github.com/Facico/Dynamic-Logit-Fusion", "code")]),
        ("https://github.com/ZhaolinGao/REFUEL/, and", [("https://github.com/ZhaolinGao/REFUEL/", "code")]),
        ("at https://qiushisun.github.io/OS-Genesis-Home/{OS-Genesis Homepage}.", [("https://qiushisun.github.io/OS-Genesis-Home/", "project_page")]),
        ("(https://huggingface.co/datasets/zixianma/mnms)", [("https://huggingface.co/datasets/zixianma/mnms", "huggingface_dataset")]),
        ("https://huggingface.co/ibm/biomed.omics.bl.sm.ma-ted-458m.", [("https://huggingface.co/ibm/biomed.omics.bl.sm.ma-ted-458m", "huggingface_model")]),
        ("https://huggingface.co/spaces/org/demo", [("https://huggingface.co/spaces/org/demo", "huggingface_space")]),
        ("https://huggingface.co/Cornell-AGI.", [("https://huggingface.co/Cornell-AGI", "huggingface")]),
        ("https://gitlab.com/group/repo", [("https://gitlab.com/group/repo", "code")]),
        ("https://sites.google.com/view/d5rl/", [("https://sites.google.com/view/d5rl/", "project_page")]),
        ("http://tiny.cc/grif and https://arxiv.org/abs/2401.00001", [("http://tiny.cc/grif", "other"), ("https://arxiv.org/abs/2401.00001", "other")]),
        ("we introduce TaskMatrix.AI, e.g. Node.js and U.S. data", []),
        ("https://github.com/a/b and again https://github.com/a/b.", [("https://github.com/a/b", "code")]),
        ("see https://en.wikipedia.org/wiki/Transformer_(machine_learning).", [("https://en.wikipedia.org/wiki/Transformer_(machine_learning)", "other")]),
        ("code: GitHub.com/acme/tool and HTTP://Example.org/x", [("https://GitHub.com/acme/tool", "code"), ("http://Example.org/x", "project_page")]),
    ],
)
def test_links_are_cut_free_of_punctuation_and_classified(text: str, expected: list[tuple[str, str]]) -> None:
    assert links(text) == expected
