"""Languages (chatserver/domain/i18n.py): every built-in language file has exactly the English
file's keys with the same placeholders; a shop's overrides are merged and checked at start; the
message format's plurals; the choice of a language from what a browser asks for."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chatserver.config import BUILTIN_LOCALES, load_settings
from chatserver.domain.i18n import (
    LocaleError,
    catalog_problems,
    choose_language,
    format_message,
    load_catalog,
    load_languages,
    placeholders,
    wanted_languages,
)

LANGUAGE_FILES = [(name, path) for name, directory in BUILTIN_LOCALES.items()
                  for path in sorted(directory.glob("*.json")) if path.stem != "en"]


def _json(path: Path) -> dict[str, str]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(("catalog", "path"), LANGUAGE_FILES, ids=[f"{n}/{p.name}" for n, p in LANGUAGE_FILES])
def test_every_language_has_the_english_keys_and_placeholders(catalog: str, path: Path) -> None:
    english = _json(BUILTIN_LOCALES[catalog] / "en.json")
    assert catalog_problems(english, _json(path)) == []


def test_the_languages_the_issue_asks_for_are_there() -> None:
    languages = load_languages(BUILTIN_LOCALES, None, "en")
    assert set(languages.catalogs["widget"].languages) >= {"en", "de", "fr", "es", "nl", "pl", "ar"}
    assert set(languages.catalogs["server"].languages) >= {"en", "de", "fr", "es", "nl", "pl", "ar"}
    assert set(languages.catalogs["console"].languages) >= {"en", "de"}


def test_a_missing_key_an_extra_key_or_other_placeholders_are_problems() -> None:
    english = {"a": "Hello {name}", "b": "{count, plural, one {# file} other {# files}}"}
    assert catalog_problems(english, {"a": "Hallo {name}"}) == ["b: missing"]
    assert catalog_problems(english, {**english, "c": "x"}) == ["c: not a key of the reference language"]
    problems = catalog_problems(english, {"a": "Hallo {nom}", "b": "{count, plural, one {# Datei} other {# Dateien}}"})
    assert problems == ["a: placeholders ['nom'] instead of ['name']"]


def test_plurals_follow_each_language() -> None:
    message = "{n, plural, =0 {none} one {# one} two {# two} few {# few} many {# many} other {# other}}"
    assert [format_message(message, {"n": n}, "en") for n in (0, 1, 2, 5)] == ["none", "1 one", "2 other", "5 other"]
    assert [format_message(message, {"n": n}, "pl") for n in (1, 3, 5, 22, 12)] == [
        "1 one", "3 few", "5 many", "22 few", "12 many"]
    assert [format_message(message, {"n": n}, "ar") for n in (1, 2, 3, 11, 100)] == [
        "1 one", "2 two", "3 few", "11 many", "100 other"]
    assert format_message("{n, plural, one {# x} other {# y}}", {"n": 0}, "fr") == "0 x"
    assert format_message("{n} Stück", {"n": 1234}, "de") == "1.234 Stück"
    assert placeholders("{a} {n, plural, one {# {b}} other {#}}") == {"a", "b", "n"}
    for bad in ["{a", "a}", "{n, plural, one {x}}", "{n, select, a {x} other {y}}", "{1}"]:
        with pytest.raises(ValueError):
            placeholders(bad)


def test_the_language_is_the_first_wanted_one_there_is_by_region_too() -> None:
    supported = ["en", "de", "fr"]
    assert choose_language(["de-AT", "en"], supported, "en") == "de"
    assert choose_language(["it", "fr-CA"], supported, "en") == "fr"
    assert choose_language(["it"], supported, "de") == "de"
    assert wanted_languages("it;q=0.3, de-AT, de;q=0.9, <script>, fr;q=0") == ["de-AT", "de", "it"]


def _overrides(tmp_path: Path, files: dict[str, dict[str, str]]) -> Path:
    for name, messages in files.items():
        path = tmp_path / "locales" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(messages), encoding="utf-8")
    return tmp_path / "locales"


def test_a_shop_overrides_a_message_and_adds_a_complete_language(tmp_path: Path) -> None:
    english = _json(BUILTIN_LOCALES["widget"] / "en.json")
    italian = {key: f"it {message}" for key, message in english.items()}
    overrides = _overrides(tmp_path, {"widget/de.json": {"launcher.title": "Fragen Sie uns"},
                                      "widget/it.json": italian})
    catalog = load_catalog("widget", BUILTIN_LOCALES["widget"], overrides)
    assert catalog.text("de", "launcher.title") == "Fragen Sie uns"
    assert catalog.text("de", "chat.send") == "Senden"
    assert catalog.text("it", "launcher.title") == "it Chat with us"
    builtin = load_catalog("widget", BUILTIN_LOCALES["widget"])
    assert catalog.hashes["de"] != builtin.hashes["de"] and catalog.hashes["en"] == builtin.hashes["en"]


@pytest.mark.parametrize(("files", "error"), [
    ({"widget/de.json": {"launcher.titel": "x"}}, "launcher.titel: not a key"),
    ({"widget/de.json": {"chat.typing": "{name} schreibt"}}, "chat.typing: placeholders"),
    ({"widget/de.json": {"chat.typing": "{agent schreibt"}}, "chat.typing: a { is not closed"),
    ({"widget/it.json": {"launcher.title": "Chatta"}}, "chat.send: missing"),
    ({"widget/de.json": ["x"]}, "one JSON object"),
    ({"widgets/de.json": {}}, "is not one of widget/, console/, server/"),
    ({"widget/DE.json": {}}, "in lower case"),
])
def test_a_bad_override_stops_the_start_naming_the_file_and_key(tmp_path: Path, files: dict[str, dict[str, str]],
                                                                 error: str) -> None:
    overrides = _overrides(tmp_path, files)
    with pytest.raises(LocaleError, match=error):
        load_languages(BUILTIN_LOCALES, overrides, "en")
    with pytest.raises(ValueError, match=error):
        load_settings({"locale_dir": str(overrides), "data_dir": str(tmp_path / "data")}, environ={})


def test_the_default_language_must_be_one_the_widget_has(tmp_path: Path) -> None:
    assert load_settings({"default_locale": "de"}, environ={}).default_locale == "de"
    with pytest.raises(ValueError, match="default_locale: 'xx'"):
        load_settings({"default_locale": "xx"}, environ={})
    with pytest.raises(ValueError, match="not a directory"):
        load_settings({"locale_dir": str(tmp_path / "nothing")}, environ={})


class _PageTexts(HTMLParser):
    """The texts of a page a reader sees or hears (text, aria-label, placeholder, title, label),
    outside <script>, <style> and <code>."""

    VOID = frozenset({"input", "meta", "link", "br", "img", "hr", "option"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.texts: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.texts |= {" ".join(v.split()) for k, v in attrs if k in {"aria-label", "placeholder", "title", "label"}
                       and v and v.strip()}
        if tag not in self.VOID - {"option"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if not {"script", "style", "code"} & set(self.open) and data.strip():
            self.texts.add(" ".join(data.split()))


def test_every_text_of_the_console_page_has_a_key() -> None:
    """agent_console/src/page-text.js puts the agent's language in place of index.html's English
    through "page.<text>" keys: a text added to the page without one would stay English."""
    parser = _PageTexts()
    parser.feed((BUILTIN_LOCALES["console"].parent / "index.html").read_text(encoding="utf-8"))
    english = _json(BUILTIN_LOCALES["console"] / "en.json")
    assert len(parser.texts) > 50 and "Sign in" in parser.texts
    assert sorted(text for text in parser.texts if f"page.{text}" not in english and text != "/refund") == []
