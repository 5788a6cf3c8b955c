"""Turning what a shopper types into a full-text query, and the cheap typo tolerance.

Plain functions over strings, so the rules are unit-tested without a database:

- ``search_terms``: lower-cased, accents folded (as the index's ``unicode61 remove_diacritics 2``
  tokenizer folds them), common English words dropped, at most ``MAX_TERMS``.
- ``match_expression``: an FTS5 query where any term may match (ranking by bm25 puts articles
  that match more of them first), each term of three letters or more as a prefix (so a word
  being typed already finds), with a naive singular (``refunds`` also finds ``refund``).
- ``article_words`` and ``variants``: the vocabulary the store keeps beside the index, and each
  word's one-letter deletions. A mistyped word and the right one share a variant when they are
  one edit apart (``refnud`` and ``refund`` both give ``refud``); ``one_edit_apart`` checks the
  candidates found that way. This is how ``refnud`` finds ``refund`` in a few index lookups.
- ``normalize_logged_query``: the form a search is logged in: no e-mail addresses or long numbers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Final

MAX_TERMS: Final = 8
MAX_TERM_CHARS: Final = 40
# Words shorter than this are matched whole; longer ones as prefixes.
PREFIX_FROM: Final = 3
# Typos are looked for in words at least this long (shorter ones have too many neighbours).
TYPO_FROM: Final = 4
STOPWORDS: Final = frozenset({
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did",
    "do", "does", "doing", "for", "from", "get", "got", "had", "has", "have", "how", "i", "if", "in", "into", "is",
    "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "please", "so", "than", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "to", "too", "was", "we", "were", "what", "when", "where",
    "which", "who", "why", "will", "with", "would", "you", "your"
})
_WORD = re.compile(r"[^\W_]+")
_EMAIL = re.compile(r"\S+@\S+")
_LONG_NUMBER = re.compile(r"\d[\d\s-]{4,}\d")
MAX_LOGGED_QUERY: Final = 200


def fold(text: str) -> str:
    """Lower case without accents (``Rückgabe`` -> ``ruckgabe``), as the index tokenizer folds."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_terms(query: str) -> list[str]:
    """The distinct words of ``query`` worth matching, in order."""
    words = [w[:MAX_TERM_CHARS] for w in _WORD.findall(fold(query))]
    kept = [w for w in words if w not in STOPWORDS and len(w) > 1] or [w for w in words if len(w) > 1]
    return list(dict.fromkeys(kept))[:MAX_TERMS]


def term_forms(term: str) -> list[str]:
    """``term`` and its naive singular (``refunds``, ``refund``; ``deliveries``, ``delivery``)."""
    forms = [term]
    if len(term) > 4 and term.endswith("ies"):
        forms.append(term[:-3] + "y")
    elif len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        forms.append(term[:-1])
    return forms


def _phrase(form: str) -> str:
    # Terms are runs of letters and digits only, so quoting cannot be broken out of.
    return f'"{form}"*' if len(form) >= PREFIX_FROM else f'"{form}"'


def match_expression(groups: Sequence[Sequence[str]]) -> str:
    """An FTS5 MATCH expression: any group may match; within a group, any of its words (a word
    and its corrections)."""
    parts = []
    for group in groups:
        phrases = list(dict.fromkeys(_phrase(form) for term in group for form in term_forms(term)))
        parts.append(phrases[0] if len(phrases) == 1 else f"({' OR '.join(phrases)})")
    return " OR ".join(parts)


def article_words(*texts: str) -> set[str]:
    """The distinct words of an article (its title, body text and tags), as the vocabulary keeps them."""
    return {w[:MAX_TERM_CHARS] for text in texts for w in _WORD.findall(fold(text)) if len(w) > 1}


def variants(word: str) -> set[str]:
    """``word`` and every string one letter shorter (a deletion anywhere)."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter deleted, inserted, changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                                    and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def normalize_logged_query(query: str) -> str:
    """What a search is logged as: lower case, single spaces, at most 200 characters, with
    e-mail addresses and long numbers (order, phone, card numbers) replaced by placeholders."""
    text = _EMAIL.sub("[email]", query.lower())
    text = _LONG_NUMBER.sub("[number]", text)
    return " ".join(text.split())[:MAX_LOGGED_QUERY]


def snippet(text: str, terms: list[str], width: int = 160) -> str:
    """About ``width`` characters of ``text`` around the first word that starts with a term (or
    its beginning), cut at word boundaries."""
    folded = fold(text)
    start = 0
    for term in terms:
        match = re.search(r"(?<![^\W_])" + re.escape(term), folded)
        if match:
            start = max(0, match.start() - width // 3)
            break
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = start + width
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    piece = " ".join(text[start:end].split())
    return ("…" if start else "") + piece + ("…" if end < len(text) else "")


__all__ = ["MAX_TERMS", "STOPWORDS", "article_words", "fold", "match_expression", "normalize_logged_query",
           "one_edit_apart", "search_terms", "snippet", "term_forms", "variants"]
