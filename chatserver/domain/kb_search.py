"""Turning what a shopper types into a full-text query, and the cheap typo tolerance.

Plain functions over strings, so the rules are unit-tested without a database:

- ``search_terms``: lower-cased, accents folded (as the index's ``unicode61 remove_diacritics 2``
  tokenizer folds them), common English words dropped, at most ``MAX_TERMS``.
- ``match_expression``: an FTS5 query where any term may match (ranking by bm25 puts articles
  that match more of them first), each term of three letters or more as a prefix (so a word
  being typed already finds), with a naive singular (``refunds`` also finds ``refund``).
- ``edits1``: every string one edit away (deletion, transposition, substitution, insertion);
  the store keeps the ones that are words of the index, which is how ``refnud`` finds ``refund``.
- ``normalize_logged_query``: the form a search is logged in: no e-mail addresses or long numbers.
"""

from __future__ import annotations

import re
import unicodedata
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
_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"
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


def _forms(term: str) -> list[str]:
    forms = [term]
    if len(term) > 4 and term.endswith("ies"):
        forms.append(term[:-3] + "y")
    elif len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        forms.append(term[:-1])
    return forms


def _phrase(form: str) -> str:
    # Terms are runs of letters and digits only, so quoting cannot be broken out of.
    return f'"{form}"*' if len(form) >= PREFIX_FROM else f'"{form}"'


def match_expression(groups: list[list[str]]) -> str:
    """An FTS5 MATCH expression: any group may match; within a group, any of its words (a word
    and its corrections)."""
    parts = []
    for group in groups:
        phrases = list(dict.fromkeys(_phrase(form) for term in group for form in _forms(term)))
        parts.append(phrases[0] if len(phrases) == 1 else f"({' OR '.join(phrases)})")
    return " OR ".join(parts)


def edits1(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``."""
    letters = sorted(set(_ALPHABET) | set(word))
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in letters if c != b[0]}
    inserts = {a + c + b for a, b in splits for c in letters}
    return (deletes | transposes | replaces | inserts) - {word}


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


__all__ = ["MAX_TERMS", "STOPWORDS", "edits1", "fold", "match_expression", "normalize_logged_query",
           "search_terms", "snippet"]
