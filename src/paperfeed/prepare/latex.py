"""LaTeX in feed text -> Unicode, token by token, with pylatexenc.

Whole strings are not handed to pylatexenc: it would read a bare '%' as a comment and drop the
rest of the abstract, and it drops macros it does not know. Only backslash tokens are converted.
An unknown macro stays readable: alone it keeps its name (`\\collabvoyager` -> `collabvoyager`),
with an argument it keeps the argument (`\\ours{GPT}` -> `GPT`). A token pylatexenc cannot
convert is kept as its text without the backslash; conversion never fails a record.
"""

from __future__ import annotations

import functools
import re

from pylatexenc.latex2text import LatexNodes2Text, get_default_latex_context_db

TOKEN = re.compile(
    r"""
    \\[`'^"~=.uvHckrdbt]\{[A-Za-z]?\}   # accent with braces: \"{u}, \c{c}
    | \\[`'^"~=.][A-Za-z]               # accent: \"U, \'e
    | \{\\[A-Za-z]+\}                   # braced macro: {\lambda}
    | \\[A-Za-z]+(?:\[[^\][{}\\]*\])?(?:\{[^{}\\]*\}){0,2}   # macro, [option], up to two simple arguments
    | \\[%&\#_$]                        # escaped special character: \%
    """,
    re.VERBOSE,
)
NAMED_MACRO = re.compile(r"\{?\\([A-Za-z]+)")
ARGUMENTS = re.compile(r"\{([^{}\\]*)\}")
# Abbreviation macros papers define for themselves; not in pylatexenc's tables.
ABBREVIATIONS = {"eg": "e.g.", "ie": "i.e.", "etal": "et al.", "wrt": "w.r.t.", "vs": "vs.", "etc": "etc."}

_DB = get_default_latex_context_db()
_CONVERTER = LatexNodes2Text(latex_context=_DB)


@functools.lru_cache(maxsize=4096)
def convert_token(token: str) -> str:
    named = NAMED_MACRO.match(token)
    if named is not None:
        macro = named.group(1)
        if macro in ABBREVIATIONS:
            return ABBREVIATIONS[macro]
        if _DB.get_macro_spec(macro) is None:
            arguments = [a for a in ARGUMENTS.findall(token) if a.strip()]
            return " ".join(arguments) if arguments else macro
    try:
        converted: str = _CONVERTER.latex_to_text(token)
    except Exception:  # noqa: BLE001 - pylatexenc raises IndexError/KeyError on odd argument lists
        return _plain(token)
    return converted if converted.strip() or not ARGUMENTS.search(token) else _plain(token)


def _plain(token: str) -> str:
    """A token as readable text: its arguments if it has any, else its name."""
    arguments = [a for a in ARGUMENTS.findall(token) if a.strip()]
    return " ".join(arguments) if arguments else token.strip("{}").lstrip("\\")


def latex_to_unicode(text: str) -> str:
    return TOKEN.sub(lambda match: convert_token(match.group(0)), text)
