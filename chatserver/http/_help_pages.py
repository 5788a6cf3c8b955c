"""The help centre's HTML: small functions that build each page as a string.

Every value from the database or the request goes through ``esc`` (titles, names, queries,
snippets, slugs in links); an article's body is the one piece of HTML put in as it is, and it
comes from ``sanitize_html`` on the way in (see help_centre.py). The pages need no script. Their
words are the reader's language's (``Reader.t``: chatserver/locales/).
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from ..domain.i18n import Translator
from ..domain.knowledge import Article, Category, SearchResult


@dataclass(frozen=True)
class Reader:
    """Who a page is for: the articles' language they asked for (``?locale=``, None: any), the
    language of the page's own words (``t``), and whether they chose it (``?lang=``, kept in links)."""

    locale: str | None
    t: Translator
    chosen: bool = False

    @property
    def site(self) -> str:
        return esc(self.t("help.site"))


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html(reader: Reader, key: str, **markup: str) -> str:
    """The message ``key`` escaped, with ``markup`` (already HTML) in its placeholders."""
    marks = {name: f"\0{index}\0" for index, name in enumerate(markup)}
    text = esc(reader.t(key, **marks))
    for name, mark in marks.items():
        text = text.replace(mark, markup[name])
    return text


def _link(path: str, reader: Reader, **query: str) -> str:
    chosen = {"lang": reader.t.language} if reader.chosen else {}
    params = {k: v for k, v in {**query, "locale": reader.locale or "", **chosen}.items() if v}
    return esc(path + ("?" + urlencode(params) if params else ""))


def _date(epoch: float, reader: Reader) -> str:
    day = time.gmtime(epoch)
    return reader.t("date.long", day=str(day.tm_mday), month=reader.t(f"month.{day.tm_mon}"), year=str(day.tm_year))


def layout(*, title: str, description: str, body: str, reader: Reader, query: str = "") -> str:
    t = reader.t
    search_value = f' value="{esc(query)}"' if query else ""
    locale_field = f'<input type="hidden" name="locale" value="{esc(reader.locale)}">' if reader.locale else ""
    lang_field = f'<input type="hidden" name="lang" value="{esc(t.language)}">' if reader.chosen else ""
    return f"""<!doctype html>
<html lang="{esc(t.language)}"{' dir="rtl"' if t.direction == "rtl" else ""}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · {reader.site}</title>
<meta name="description" content="{esc(description[:300])}">
<link rel="stylesheet" href="/help/help.css">
</head>
<body>
<header class="site">
<a class="home" href="{_link('/help/', reader)}">{reader.site}</a>
<form class="search" action="/help/search" method="get" role="search">
<label for="help-q">{esc(t("help.searchLabel"))}</label>
<input id="help-q" name="q" type="search" maxlength="200" required{search_value}>
{locale_field}{lang_field}<button type="submit">{esc(t("help.searchButton"))}</button>
</form>
</header>
<main>
{body}
</main>
</body>
</html>
"""


def _article_list(articles: Iterable[Article], reader: Reader, *, summaries: bool = True) -> str:
    items = []
    for a in articles:
        summary = f'<p class="summary">{esc(a.summary)}</p>' if summaries and a.summary else ""
        items.append(f'<li><a href="{_link("/help/articles/" + a.slug, reader)}">{esc(a.title)}</a>{summary}</li>')
    if not items:
        return f'<p class="empty">{esc(reader.t("help.noArticles"))}</p>'
    return f'<ul class="articles">{"".join(items)}</ul>'


def _faq(entries: Iterable[Article], bodies: dict[str, str], reader: Reader) -> str:
    return "".join(
        f'<details class="faq"><summary>{esc(a.title)}</summary><div class="body">{bodies[a.id]}</div>'
        f'<p><a href="{_link("/help/articles/" + a.slug, reader)}">{esc(reader.t("help.openAnswer"))}</a></p></details>'
        for a in entries)


def home_page(categories: list[Category], by_category: dict[str, list[Article]], counts: dict[str, int],
              faq: list[Article], bodies: dict[str, str], reader: Reader) -> str:
    cards = []
    for c in categories:
        articles = by_category.get(c.id, [])
        more = counts.get(c.id, 0)
        link = _link("/help/categories/" + c.slug, reader)
        description = f"<p>{esc(c.description)}</p>" if c.description else ""
        cards.append(f'<section class="category"><h2><a href="{link}">{esc(c.name)}</a></h2>{description}'
                     f'{_article_list(articles, reader, summaries=False)}'
                     f'<p class="more"><a href="{link}">{esc(reader.t("help.allArticles", count=more))}</a></p>'
                     "</section>")
    t = reader.t
    faq_section = (f'<section class="faqs" aria-labelledby="faq-title"><h2 id="faq-title">{esc(t("help.faq"))}'
                   f'</h2>{_faq(faq, bodies, reader)}</section>') if faq else ""
    heading = f'<h1>{esc(t("help.howCanWeHelp"))}</h1>'
    body = (f'{heading}{faq_section}<div class="categories">{"".join(cards)}</div>'
            if cards or faq else f'{heading}<p class="empty">{esc(t("help.noArticles"))}</p>')
    return layout(title=t("help.howCanWeHelp"), description=t("help.homeDescription", categories=", ".join(
        c.name for c in categories)), body=body, reader=reader)


def category_page(category: Category, faq: list[Article], articles: list[Article], bodies: dict[str, str],
                  reader: Reader) -> str:
    t = reader.t
    faq_section = f'<section class="faqs"><h2>{esc(t("help.faq"))}</h2>{_faq(faq, bodies, reader)}</section>' \
        if faq else ""
    description = f'<p class="lead">{esc(category.description)}</p>' if category.description else ""
    body = (f'<nav class="crumbs" aria-label="{esc(t("help.breadcrumb"))}"><a href="{_link("/help/", reader)}">'
            f'{reader.site}</a></nav><h1>{esc(category.name)}</h1>{description}{faq_section}'
            f'<section><h2>{esc(t("help.articles"))}</h2>{_article_list(articles, reader)}</section>')
    return layout(title=category.name, description=category.description or category.name, body=body, reader=reader)


def article_page(article: Article, body_html: str, category: Category | None, related: list[Article],
                 reader: Reader) -> str:
    t = reader.t
    crumbs = f'<a href="{_link("/help/", reader)}">{reader.site}</a>'
    if category is not None:
        crumbs += f' &rsaquo; <a href="{_link("/help/categories/" + category.slug, reader)}">{esc(category.name)}</a>'
    tags = "".join(f"<li>{esc(t)}</li>" for t in article.tags)
    tag_list = f'<ul class="tags" aria-label="{esc(t("help.tags"))}">{tags}</ul>' if tags else ""
    related_section = (f'<aside class="related"><h2>{esc(t("help.related"))}</h2>'
                       f'{_article_list(related, reader, summaries=False)}</aside>') if related else ""
    body = (f'<nav class="crumbs" aria-label="{esc(t("help.breadcrumb"))}">{crumbs}</nav>'
            f'<article lang="{esc(article.locale or t.language)}" dir="auto">'
            f'<h1>{esc(article.title)}</h1><div class="body">{body_html}</div>'
            f'<p class="meta" lang="{esc(t.language)}">'
            f'{esc(t("help.updated", date=_date(article.updated_at, reader)))}</p>'
            f'{tag_list}</article>{related_section}')
    return layout(title=article.title, description=article.summary or article.title, body=body, reader=reader)


def search_page(result: SearchResult | None, query: str, reader: Reader) -> str:
    t = reader.t
    if result is None:
        body = f'<h1>{esc(t("help.search"))}</h1><p class="empty">{esc(t("help.typeSomething"))}</p>'
        return layout(title=t("help.search"), description=t("help.searchDescription"), body=body, reader=reader)
    note = ""
    if result.corrected and result.did_you_mean:
        strong = f"<strong>{esc(result.did_you_mean)}</strong>"
        note = f'<p class="note">{_html(reader, "help.showingFor", query=strong)}</p>'
    if result.hits:
        items = "".join(
            f'<li><a href="{_link("/help/articles/" + h.article.slug, reader)}">{esc(h.article.title)}</a>'
            f'<p class="summary">{esc(h.snippet)}</p></li>' for h in result.hits)
        listing = f'<ol class="articles results">{items}</ol>'
    else:
        browse = f'<a href="{_link("/help/", reader)}">{esc(t("help.browse"))}</a>'
        listing = f'<p class="empty">{_html(reader, "help.noMatch", browse=browse)}</p>'
    body = f'<h1>{esc(t("help.resultsFor", query=query))}</h1>{note}{listing}'
    return layout(title=t("help.searchTitle", query=query), description=t("help.searchResults"), body=body,
                  reader=reader, query=query)


def error_page(status: int, message: str, reader: Reader) -> str:
    title = reader.t("help.notFoundTitle" if status == 404 else "help.cannotShowTitle")
    back = f'<p><a href="{_link("/help/", reader)}">{esc(reader.t("help.back"))}</a></p>'
    body = f"<h1>{title}</h1><p>{esc(message)}</p>{back}"
    return layout(title=title, description=title, body=body, reader=reader)
