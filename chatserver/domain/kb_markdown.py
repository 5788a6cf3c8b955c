"""Knowledge-base article bodies: Markdown to safe HTML, and to plain text for search.

Two layers, so that neither alone has to be perfect: markdown-it (CommonMark) runs with raw HTML
off, so ``<script>`` in a body comes out as text; its output then goes through nh3 (the Ammonia
sanitizer) with an allowlist of tags and attributes and of URL schemes (http, https, mailto and
relative links: never ``javascript:`` or ``data:``). ``sanitize_html`` is also what the help
centre passes stored HTML through again before it is put in a page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec
import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS: Final = frozenset({
    "a", "blockquote", "br", "code", "del", "em", "h2", "h3", "h4", "h5", "h6", "hr", "img", "li", "ol", "p",
    "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
})
ALLOWED_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
# Nesting deeper than this (quotes in quotes in lists ...) is rendered as text: it bounds the
# parser's work on a hostile body and no honest article needs more.
MAX_NESTING: Final = 20

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                "maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])


def _heading(closing: str) -> Callable[..., str]:
    def render(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
        return f"<{closing}h{max(2, int(tokens[idx].tag[1]))}>" + ("\n" if closing else "")

    return render


# A level-1 heading is the article's title: headings inside a body start at level 2.
_md.add_render_rule("heading_open", _heading(""))
_md.add_render_rule("heading_close", _heading("/"))


class RenderedBody(msgspec.Struct, frozen=True):
    html: str  # sanitized: safe to put in a page as it is
    text: str  # the words a reader sees, for the search index and snippets


def sanitize_html(html: str) -> str:
    """Keep only the allowlisted tags, attributes and URL schemes; links get ``rel=noopener
    noreferrer nofollow``. Everything else (scripts, event handlers, styles, frames, forms) goes."""
    return nh3.clean(html, tags=set(ALLOWED_TAGS), attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
                     url_schemes=set(URL_SCHEMES), link_rel="noopener noreferrer nofollow", strip_comments=True)


def render_markdown(source: str) -> RenderedBody:
    """An article body (CommonMark with tables and strikethrough) as sanitized HTML and plain text."""
    tokens = _md.parse(source)
    html = sanitize_html(_md.renderer.render(tokens, _md.options, {}))
    parts: list[str] = []
    for token in tokens:
        if token.type == "inline" and token.children:
            parts.append("".join(child.content for child in token.children
                                 if child.type in ("text", "code_inline", "image")))
        elif token.type in ("fence", "code_block"):
            parts.append(token.content.strip())
    return RenderedBody(html=html, text="\n".join(p for p in parts if p))


__all__ = ["ALLOWED_ATTRIBUTES", "ALLOWED_TAGS", "URL_SCHEMES", "RenderedBody", "render_markdown", "sanitize_html"]
