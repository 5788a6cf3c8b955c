"""Languages (docs/widget.md, "Languages"): the translation catalogs of the widget, the console and
the server's own pages and mails, one JSON file per language, a shop's overrides merged over them,
checked at start; the choice of a language from what a browser asks for; and the message format.

A message is text with ``{name}`` placeholders and plural choices in an ICU-like subset:
``{count, plural, =0 {none} one {# file} few {# pliki} other {# files}}`` (``#`` is the number).
The categories are CLDR's (``Intl.PluralRules`` in the browsers; ``plural_category`` below for the
server's languages). The widget and the console format with the same rules (client/src/i18n.js).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

# The languages written right to left among those a catalog may have.
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})
# A language tag as a browser or a shop writes it: en, de-AT, zh-Hant-TW.
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$(?!\n)")
# A catalog's file name: its language, lower case (en.json, pt-br.json).
_FILE_TAG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$(?!\n)")
_PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})
_BRANCH = re.compile(r"\s*(=\d+|zero|one|two|few|many|other)\s*\{")
MAX_WANTED = 8


class LocaleError(ValueError):
    """A catalog that cannot be used: the message names the file and the key."""


# -- the message format ---------------------------------------------------------------------------


def _closing(text: str, start: int) -> int:
    """The index of the ``}`` closing the ``{`` at ``start``."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError("a { is not closed")


def _branches(text: str) -> dict[str, str]:
    branches: dict[str, str] = {}
    index = 0
    while text[index:].strip():
        match = _BRANCH.match(text, index)
        if not match:
            raise ValueError(f"a plural choice is not 'category {{text}}' at {text[index:index + 20]!r}")
        end = _closing(text, match.end() - 1)
        branches[match.group(1)] = text[match.end():end]
        index = end + 1
    if "other" not in branches:
        raise ValueError("a plural choice needs an 'other' branch")
    return branches


def _parts(message: str) -> list[tuple[str, str, dict[str, str] | None]]:
    """The message as literal text and arguments: ``("text", literal, None)``,
    ``("arg", name, None)`` or ``("plural", name, branches)``."""
    parts: list[tuple[str, str, dict[str, str] | None]] = []
    index = 0
    while index < len(message):
        opening = message.find("{", index)
        closing = message.find("}", index)
        if closing != -1 and (opening == -1 or closing < opening):
            raise ValueError("a } without its {")
        if opening == -1:
            parts.append(("text", message[index:], None))
            break
        if opening > index:
            parts.append(("text", message[index:opening], None))
        end = _closing(message, opening)
        inner = message[opening + 1:end]
        name, _, rest = inner.partition(",")
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"{{{inner}}} is not a placeholder")
        if rest:
            kind, _, choices = rest.partition(",")
            if kind.strip() != "plural":
                raise ValueError(f"{{{name}, {kind.strip()}}}: only plural choices are supported")
            parts.append(("plural", name, _branches(choices)))
        else:
            parts.append(("arg", name, None))
        index = end + 1
    return parts


def placeholders(message: str) -> frozenset[str]:
    """The names a message uses (raises ``ValueError`` when it is not well formed)."""
    names: set[str] = set()
    for kind, value, branches in _parts(message):
        if kind != "text":
            names.add(value)
        for branch in (branches or {}).values():
            names |= placeholders(branch)
    return frozenset(names)


def plural_category(language: str, number: float) -> str:
    """CLDR's cardinal category of ``number`` in ``language`` (the built-in languages' rules;
    others get English's)."""
    lang = language.split("-")[0].lower()
    n = abs(number)
    integer = n == int(n)
    i = int(n)
    if lang == "fr":
        return "one" if i in (0, 1) else ("many" if integer and i != 0 and i % 1_000_000 == 0 else "other")
    if lang == "pl":
        if not integer:
            return "other"
        if i == 1:
            return "one"
        if 2 <= i % 10 <= 4 and not 12 <= i % 100 <= 14:
            return "few"
        return "many"
    if lang == "ar":
        if not integer:
            return "other"
        if i == 0:
            return "zero"
        if i == 1:
            return "one"
        if i == 2:
            return "two"
        if 3 <= i % 100 <= 10:
            return "few"
        if 11 <= i % 100 <= 99:
            return "many"
        return "other"
    if lang == "es":
        return "one" if n == 1 else ("many" if integer and i != 0 and i % 1_000_000 == 0 else "other")
    return "one" if n == 1 and integer else "other"


def _number(language: str, value: float) -> str:
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")
    if language.split("-")[0] in {"de", "es", "nl", "pl", "fr"}:
        separator = "\u202f" if language.startswith("fr") else ("\u00a0" if language.startswith("pl") else ".")
        text = text.replace(",", "\0").replace(".", ",").replace("\0", separator)
    return text


def format_message(message: str, params: Mapping[str, object], language: str) -> str:
    """``message`` with its placeholders filled in; a missing value stays as ``{name}``."""
    return _format(message, params, language, None)


def _format(message: str, params: Mapping[str, object], language: str, count: float | None) -> str:
    out: list[str] = []
    for kind, value, branches in _parts(message):
        if kind == "text":
            out.append(value if count is None else value.replace("#", _number(language, count)))
        elif kind == "arg":
            param = params.get(value)
            out.append(f"{{{value}}}" if param is None else
                       _number(language, param) if isinstance(param, (int, float)) and not isinstance(param, bool)
                       else str(param))
        else:
            number = params.get(value)
            n = number if isinstance(number, (int, float)) else 0
            assert branches is not None
            branch = branches.get(f"={n}") or branches.get(plural_category(language, n)) or branches["other"]
            out.append(_format(branch, params, language, n))
    return "".join(out)


# -- catalogs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """One front end's translations: every language's messages, each language's file as served
    (compact JSON) and a hash of it (the served URL names it, so it is cached for good)."""

    name: str
    fallback: str
    messages: Mapping[str, Mapping[str, str]]
    bodies: Mapping[str, bytes] = field(default_factory=dict)
    hashes: Mapping[str, str] = field(default_factory=dict)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.messages))

    def text(self, language: str, key: str, **params: object) -> str:
        """The message ``key`` in ``language`` (the fallback language's where it has none)."""
        messages = self.messages.get(language) or self.messages[self.fallback]
        return format_message(messages.get(key) or self.messages[self.fallback][key], params, language)

    def translator(self, language: str) -> Translator:
        return Translator(self, language if language in self.messages else self.fallback)


@dataclass(frozen=True)
class Translator:
    """A catalog in one language: ``t("key", name=...)``."""

    catalog: Catalog
    language: str

    def __call__(self, key: str, **params: object) -> str:
        return self.catalog.text(self.language, key, **params)

    @property
    def direction(self) -> str:
        return "rtl" if self.language.split("-")[0] in RTL_LANGUAGES else "ltr"


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LocaleError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise LocaleError(f"{path}: must be one JSON object of message keys to strings")
    for key, message in data.items():
        try:
            placeholders(message)
        except ValueError as exc:
            raise LocaleError(f"{path}: {key}: {exc}") from exc
    return data


def _files(directory: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(directory.glob("*.json")):
        if not _FILE_TAG.fullmatch(path.stem):
            raise LocaleError(f"{path}: a catalog's name is its language in lower case, such as de.json or pt-br.json")
        found[path.stem] = path
    return found


def catalog_problems(reference: Mapping[str, str], messages: Mapping[str, str]) -> list[str]:
    """What makes ``messages`` unlike the reference language's: keys it misses or that the
    reference does not have, and placeholders that differ."""
    problems = [f"{key}: missing" for key in reference if key not in messages]
    problems += [f"{key}: not a key of the reference language" for key in messages if key not in reference]
    for key, message in messages.items():
        if key in reference and placeholders(message) != placeholders(reference[key]):
            problems.append(f"{key}: placeholders {sorted(placeholders(message))} instead of "
                            f"{sorted(placeholders(reference[key]))}")
    return problems


@functools.cache
def _checked_builtin(directory: Path, fallback: str) -> Mapping[str, Mapping[str, str]]:
    """The built-in catalog's files in ``directory``, each checked against ``fallback``'s: read
    once a process (they ship with the package), though settings are checked and a server built
    from them many times over (a test run starts hundreds). Raises ``LocaleError`` as
    ``load_catalog`` says."""
    builtin = {language: _read(path) for language, path in _files(directory).items()}
    if fallback not in builtin:
        raise LocaleError(f"{directory}: no {fallback}.json")
    reference = builtin[fallback]
    for language, found in builtin.items():
        problems = catalog_problems(reference, found)
        if problems:
            raise LocaleError(f"{directory / (language + '.json')}: " + "; ".join(problems))
    return MappingProxyType({language: MappingProxyType(found) for language, found in builtin.items()})


def load_catalog(name: str, directory: Path, overrides: Path | None = None, fallback: str = "en") -> Catalog:
    """The built-in catalog in ``directory`` (one ``<language>.json`` each, complete) with a shop's
    ``overrides/<name>/<language>.json`` merged over it: an override may change any message of a
    built-in language, or add a language when it has every key. Raises ``LocaleError`` naming the
    file and the key for anything else (unknown keys, different placeholders, bad JSON)."""
    builtin = _checked_builtin(directory, fallback)
    reference = builtin[fallback]
    messages = {language: dict(found) for language, found in builtin.items()}
    if overrides is not None and (overrides / name).is_dir():
        for language, path in _files(overrides / name).items():
            extra = _read(path)
            problems = catalog_problems(reference, {**messages.get(language, reference), **extra})
            if language not in messages:
                problems = catalog_problems(reference, extra)
            if problems:
                raise LocaleError(f"{path}: " + "; ".join(problems))
            messages[language] = {**messages.get(language, {}), **extra}
    bodies: dict[str, bytes] = {}
    hashes: dict[str, str] = {}
    for language, found in messages.items():
        direction = "rtl" if language.split("-")[0] in RTL_LANGUAGES else "ltr"
        body = json.dumps({"locale": language, "dir": direction, "messages": found}, ensure_ascii=False,
                          separators=(",", ":"), sort_keys=True).encode()
        bodies[language] = body
        hashes[language] = hashlib.sha256(body).hexdigest()[:12]
    return Catalog(name=name, fallback=fallback, messages=messages, bodies=bodies, hashes=hashes)


# -- choosing a language --------------------------------------------------------------------------


def wanted_languages(value: str | None) -> list[str]:
    """``de-AT,de;q=0.9,en;q=0.5`` (an Accept-Language header, or the widget's ``want`` list) as
    tags in order of preference, malformed ones left out."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((value or "").split(",")[:32]):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                continue
        if LANGUAGE_TAG.fullmatch(tag.strip()) and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)][:MAX_WANTED]


def choose_language(wanted: Iterable[str], supported: Iterable[str], default: str) -> str:
    """The first of ``wanted`` a catalog has, exactly or by its language alone (de-AT -> de,
    pt-BR -> pt-br), else ``default``."""
    available = {language.lower(): language for language in supported}
    for tag in wanted:
        lowered = tag.lower()
        if lowered in available:
            return available[lowered]
        base = lowered.split("-")[0]
        if base in available:
            return available[base]
    return default


@dataclass(frozen=True)
class Languages:
    """Every catalog (``widget``, ``console``, ``server``) and the shop's default language."""

    catalogs: Mapping[str, Catalog]
    default: str

    def choose(self, catalog: str, wanted: Iterable[str]) -> str:
        """The language of ``catalog`` for a reader who wants ``wanted`` (best first)."""
        languages = self.catalogs[catalog].languages
        fallback = self.default if self.default in languages else self.catalogs[catalog].fallback
        return choose_language(wanted, languages, fallback)

    def supported(self, language: str | None) -> str | None:
        """``language`` as the widget's catalog names it, if it has it (de-AT -> de), else None."""
        if not language or not LANGUAGE_TAG.fullmatch(language):
            return None
        found = choose_language([language], self.catalogs["widget"].languages, "")
        return found or None

    def server(self, language: str | None) -> Translator:
        """The server's own texts (help centre, mails) in ``language``, else the default's."""
        return self.catalogs["server"].translator(self.choose("server", [language] if language else []))


def load_languages(directories: Mapping[str, Path], overrides: Path | None, default: str) -> Languages:
    """Every catalog, the shop's overrides merged in; raises ``LocaleError`` (a ``ValueError``)
    when one cannot be used or ``default`` is not a language of the widget."""
    if overrides is not None and not overrides.is_dir():
        raise LocaleError(f"locale_dir: {overrides} is not a directory")
    if overrides is not None:
        for entry in sorted(overrides.iterdir()):
            if entry.name not in directories:
                raise LocaleError(f"locale_dir: {entry} is not one of {', '.join(f'{n}/' for n in directories)}")
    catalogs = {name: load_catalog(name, directory, overrides) for name, directory in directories.items()}
    if "widget" in catalogs and default not in catalogs["widget"].languages:
        raise LocaleError(f"default_locale: {default!r} is not one of the widget's languages "
                          f"({', '.join(catalogs['widget'].languages)})")
    return Languages(catalogs=catalogs, default=default)
