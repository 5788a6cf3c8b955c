"""The help centre's HTML: small functions that build each page as a string.

Every value from the database or the request goes through ``esc`` (titles, names, queries,
snippets, slugs in links); an article's body is the one piece of HTML put in as it is, and it
comes from ``sanitize_html`` on the way in (see help_centre.py). The pages need no script.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from urllib.parse import urlencode

from ..domain.knowledge import Article, Category, SearchResult

SITE = "Help centre"


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _link(path: str, locale: str | None, **query: str) -> str:
    params = {k: v for k, v in {**query, "locale": locale or ""}.items() if v}
    return esc(path + ("?" + urlencode(params) if params else ""))


def _date(epoch: float) -> str:
    return time.strftime("%d %B %Y", time.gmtime(epoch)).lstrip("0")


def layout(*, title: str, description: str, body: str, locale: str | None, query: str = "",
           lang: str | None = None) -> str:
    search_value = f' value="{esc(query)}"' if query else ""
    locale_field = f'<input type="hidden" name="locale" value="{esc(locale)}">' if locale else ""
    return f"""<!doctype html>
<html lang="{esc(lang or locale or 'en')}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · {SITE}</title>
<meta name="description" content="{esc(description[:300])}">
<link rel="stylesheet" href="/help/help.css">
</head>
<body>
<header class="site">
<a class="home" href="{_link('/help/', locale)}">{SITE}</a>
<form class="search" action="/help/search" method="get" role="search">
<label for="help-q">Search for answers</label>
<input id="help-q" name="q" type="search" maxlength="200" required{search_value}>
{locale_field}<button type="submit">Search</button>
</form>
</header>
<main>
{body}
</main>
</body>
</html>
"""


def _article_list(articles: Iterable[Article], locale: str | None, *, summaries: bool = True) -> str:
    items = []
    for a in articles:
        summary = f'<p class="summary">{esc(a.summary)}</p>' if summaries and a.summary else ""
        items.append(f'<li><a href="{_link("/help/articles/" + a.slug, locale)}">{esc(a.title)}</a>{summary}</li>')
    return f'<ul class="articles">{"".join(items)}</ul>' if items else '<p class="empty">No articles yet.</p>'


def _faq(entries: Iterable[Article], bodies: dict[str, str], locale: str | None) -> str:
    return "".join(
        f'<details class="faq"><summary>{esc(a.title)}</summary><div class="body">{bodies[a.id]}</div>'
        f'<p><a href="{_link("/help/articles/" + a.slug, locale)}">Open this answer</a></p></details>'
        for a in entries)


def home_page(categories: list[Category], by_category: dict[str, list[Article]], counts: dict[str, int],
              faq: list[Article], bodies: dict[str, str], locale: str | None) -> str:
    cards = []
    for c in categories:
        articles = by_category.get(c.id, [])
        more = counts.get(c.id, 0)
        link = _link("/help/categories/" + c.slug, locale)
        description = f"<p>{esc(c.description)}</p>" if c.description else ""
        cards.append(f'<section class="category"><h2><a href="{link}">{esc(c.name)}</a></h2>{description}'
                     f'{_article_list(articles, locale, summaries=False)}'
                     f'<p class="more"><a href="{link}">All {more} {"article" if more == 1 else "articles"}</a></p>'
                     "</section>")
    faq_section = (f'<section class="faqs" aria-labelledby="faq-title"><h2 id="faq-title">Frequently asked '
                   f'questions</h2>{_faq(faq, bodies, locale)}</section>') if faq else ""
    body = (f'<h1>How can we help?</h1>{faq_section}<div class="categories">{"".join(cards)}</div>'
            if cards or faq else '<h1>How can we help?</h1><p class="empty">No articles yet.</p>')
    return layout(title="How can we help?", description="Answers to common questions: " +
                  ", ".join(c.name for c in categories), body=body, locale=locale)


def category_page(category: Category, faq: list[Article], articles: list[Article], bodies: dict[str, str],
                  locale: str | None) -> str:
    faq_section = f'<section class="faqs"><h2>Frequently asked questions</h2>{_faq(faq, bodies, locale)}</section>' \
        if faq else ""
    description = f'<p class="lead">{esc(category.description)}</p>' if category.description else ""
    body = (f'<nav class="crumbs" aria-label="Breadcrumb"><a href="{_link("/help/", locale)}">{SITE}</a></nav>'
            f'<h1>{esc(category.name)}</h1>{description}{faq_section}'
            f'<section><h2>Articles</h2>{_article_list(articles, locale)}</section>')
    return layout(title=category.name, description=category.description or category.name, body=body, locale=locale)


def article_page(article: Article, body_html: str, category: Category | None, related: list[Article],
                 locale: str | None) -> str:
    crumbs = f'<a href="{_link("/help/", locale)}">{SITE}</a>'
    if category is not None:
        crumbs += f' &rsaquo; <a href="{_link("/help/categories/" + category.slug, locale)}">{esc(category.name)}</a>'
    tags = "".join(f"<li>{esc(t)}</li>" for t in article.tags)
    tag_list = f'<ul class="tags" aria-label="Tags">{tags}</ul>' if tags else ""
    related_section = (f'<aside class="related"><h2>Related articles</h2>'
                       f'{_article_list(related, locale, summaries=False)}</aside>') if related else ""
    body = (f'<nav class="crumbs" aria-label="Breadcrumb">{crumbs}</nav><article>'
            f'<h1>{esc(article.title)}</h1><div class="body">{body_html}</div>'
            f'<p class="meta">Updated {esc(_date(article.updated_at))}</p>'
            f'{tag_list}</article>{related_section}')
    return layout(title=article.title, description=article.summary or article.title, body=body, locale=locale,
                  lang=article.locale)


def search_page(result: SearchResult | None, query: str, locale: str | None) -> str:
    if result is None:
        body = '<h1>Search</h1><p class="empty">Type what you are looking for.</p>'
        return layout(title="Search", description="Search the help centre", body=body, locale=locale)
    note = ""
    if result.corrected and result.did_you_mean:
        note = f'<p class="note">Showing results for <strong>{esc(result.did_you_mean)}</strong>.</p>'
    if result.hits:
        items = "".join(
            f'<li><a href="{_link("/help/articles/" + h.article.slug, locale)}">{esc(h.article.title)}</a>'
            f'<p class="summary">{esc(h.snippet)}</p></li>' for h in result.hits)
        listing = f'<ol class="articles results">{items}</ol>'
    else:
        listing = (f'<p class="empty">No articles match. Try other words, or '
                   f'<a href="{_link("/help/", locale)}">browse the categories</a>.</p>')
    body = f'<h1>Results for “{esc(query)}”</h1>{note}{listing}'
    return layout(title=f"Search: {query}", description="Search results", body=body, locale=locale, query=query)


def error_page(status: int, message: str, locale: str | None) -> str:
    title = "Page not found" if status == 404 else "Cannot show this page"
    back = f'<p><a href="{_link("/help/", locale)}">Back to the help centre</a></p>'
    body = f"<h1>{title}</h1><p>{esc(message)}</p>{back}"
    return layout(title=title, description=title, body=body, locale=locale)
