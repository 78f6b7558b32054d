"""Links: URLs in abstracts, cut free of the punctuation they are glued to, each given a kind.

Seen on the real feed: 'https://rt-hierarchy.github.io.', '(https://liruiw.github.io/gensim)',
'[https://github.com/GitsSaikat/Pygen]', 'researchhttps://github.com/...', 'https: //github.com/...'
and hosts without a scheme ('rlif-page.github.io', 'github.com/anyasims/edge-of-reach').
"""

from __future__ import annotations

import polars as pl

# Rust regex (no look-behind): a URL with a scheme or 'www.'; or a bare lower-case host, accepted
# only as a GitHub/GitLab page or with a path, so names like 'TaskMatrix.AI' are not taken for links.
_HOST = r"\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
# Control characters are excluded by name: Rust's \s and Python's \s disagree about some of them.
_URL_CHARS = r"[^\s<>\"{}\x00-\x1f\x7f-\x9f]"
URL = (
    rf"(?i:https?:\s?//|www\.){_URL_CHARS}+"
    rf"|{_HOST}(?:github|gitlab)\.io\b(?:/{_URL_CHARS}*)?"
    rf"|(?i:{_HOST}(?:com|org|net|io|ai|edu|dev|co))/{_URL_CHARS}+"
)
# What a link must look like to be one: scheme, a host with a top-level domain, an optional port
# and path. The publish gate (expectations/links.json) holds links to the same rule; a property
# test checks that extraction never yields a link the gate would refuse.
WELL_FORMED = rf"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{{2,}}(?::\d+)?(?:[/?#]{_URL_CHARS}*)?$"
# Glued-on punctuation; a closing parenthesis only when the URL did not open one (Wikipedia's '_(x)').
TRAILING_PUNCTUATION = r"[.,;:!?'\"\]}>]+$"

# Kinds, checked in this order against "host/path" (scheme and 'www.' removed, lower case).
KINDS: tuple[tuple[str, str], ...] = (
    ("code", r"^(?:github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)(?:/|$)"),
    ("huggingface_dataset", r"^(?:huggingface\.co|hf\.co)/datasets/"),
    ("huggingface_space", r"^(?:huggingface\.co|hf\.co)/spaces/"),
    ("huggingface", r"^(?:huggingface\.co|hf\.co)/(?:papers|collections|docs|blog|learn)(?:/|$)"),
    ("huggingface_model", r"^(?:huggingface\.co|hf\.co)/[^/]+/[^/]+"),
    ("huggingface", r"^(?:huggingface\.co|hf\.co)(?:/|$)"),
    (
        "other",
        r"^(?:arxiv\.org|doi\.org|openreview\.net|(?:youtu\.be|youtube\.com)|x\.com|twitter\.com"
        r"|tiny\.cc|bit\.ly|dub\.sh|t\.co|goo\.gl|drive\.google\.com|docs\.google\.com|[a-z]+\.wikipedia\.org)(?:/|$)",
    ),
)
# Everything else is a page about the work: *.github.io, sites.google.com, a lab's or author's site.
DEFAULT_KIND = "project_page"


def extract_links(text: pl.Expr) -> pl.Expr:
    """Text -> list of {url, kind}, in order of first mention, without repeats."""
    url = pl.element().str.replace(r"(?i)^(https?):\s*//", "$1://").str.replace(TRAILING_PUNCTUATION, "")
    unbalanced = url.str.ends_with(")") & (url.str.count_matches(r"\(") < url.str.count_matches(r"\)"))
    url = pl.when(unbalanced).then(url.str.head(-1)).otherwise(url).str.replace(TRAILING_PUNCTUATION, "")
    scheme = url.str.extract(r"(?i)^(https?)://", 1)
    normalised = (
        pl.when(scheme.is_not_null())
        .then(scheme.str.to_lowercase() + url.str.replace(r"(?i)^https?", ""))
        .otherwise(pl.lit("https://") + url)
    )
    return (
        text.str.extract_all(URL)
        .list.eval(normalised)
        .list.eval(pl.element().filter(pl.element().str.contains(WELL_FORMED)))
        .list.unique(maintain_order=True)
        .list.eval(pl.struct(url=pl.element(), kind=link_kind(pl.element())))
    )


def link_kind(url: pl.Expr) -> pl.Expr:
    where = url.str.to_lowercase().str.replace(r"^https?://(?:www\.)?", "")
    kind = pl.lit(DEFAULT_KIND)
    for name, pattern in reversed(KINDS):
        kind = pl.when(where.str.contains(pattern)).then(pl.lit(name)).otherwise(kind)
    return kind
