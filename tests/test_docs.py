"""The documents name every event, error code and setting the code defines."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from chatserver import constants
from chatserver.config import env_name, settings_fields
from chatserver.errors import ALL_ERRORS
from loadtests.__main__ import build_parser as load_test_parser
from loadtests.scenarios import all_scenarios

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_socketio_event_is_documented() -> None:
    protocol = (DOCS / "protocol.md").read_text()
    events = {v for k, v in vars(constants).items() if k.startswith("EV_")}
    missing = sorted(e for e in events if f"`{e}`" not in protocol)
    assert not missing


def test_every_error_code_and_system_message_is_documented() -> None:
    protocol = (DOCS / "protocol.md").read_text()
    codes = {e.code for e in ALL_ERRORS} | {v for k, v in vars(constants).items() if k.startswith("SYS_")}
    assert not sorted(c for c in codes if f"`{c}`" not in protocol)


def test_every_setting_is_documented() -> None:
    configuration = (DOCS / "configuration.md").read_text()
    missing = [name for name in settings_fields() if f"`{name}`" not in configuration]
    assert not missing
    assert env_name("grace_period") == "CHATSERVER_GRACE_PERIOD"


def _command_line() -> str:
    return (DOCS / "configuration.md").read_text().split("## Command line", 1)[1]


def test_every_command_line_option_has_a_variable_and_both_are_documented_with_the_command() -> None:
    from chatserver.cli import build_parser
    from chatserver.cli_env import every_command

    commands = {" ".join(c.command): c for c in every_command(build_parser())}
    assert {"serve", "agent add", "agent list", "agent disable", "agent enable", "agent update",
            "customer export", "customer delete", "db copy"} <= set(commands)
    in_code: set[tuple[str, str, str]] = set()
    for name, command in commands.items():
        flags = {f for a in command._actions for f in a.option_strings} - {"-h", "--help"}
        with_variable = {f for o in command.env_options for f in o.action.option_strings}
        assert flags <= with_variable, (name, sorted(flags - with_variable))  # added without a variable
        in_code |= {(name, o.flag, o.env) for o in command.env_options}
    settings = {env_name(f) for f in settings_fields()}
    own = {o.env for c in commands.values() for o in c.env_options if not o.setting}
    assert not own & settings  # a command's own variable never means a setting

    section = _command_line()
    documented: set[tuple[str, str, str]] = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("| ") else []
        if len(cells) < 3 or not cells[2].startswith("`CHATSERVER_"):
            continue
        # "every command but `db copy`": every command not named in the cell
        names = [n for n in commands if f"`{n}`" not in cells[0]] if cells[0].startswith("every command") \
            else [cells[0].strip("`")]
        flag, variable = cells[1].strip("`").split()[0], cells[2].strip("`")
        documented |= {(name, flag, variable) for name in names}
    assert sorted(in_code - documented) == []  # options (or variables) the table lacks
    assert sorted(documented - in_code) == []  # rows for options that do not exist

    usage = section.split("```")[1]
    entries = re.split(r"\n(?=chatserver )", usage.strip())
    for name, command in commands.items():
        [entry] = [e for e in entries if re.match(rf"chatserver {name}(\s|$)", e)]
        missing = [o.flag for o in command.env_options
                   if not re.search(rf"(?<![\w-]){re.escape(o.flag)}(?![\w-])", entry)]
        assert not missing, (name, missing)


def test_every_http_error_code_is_documented() -> None:
    from chatserver.http.views import _HTTP_CODES

    protocol = (DOCS / "protocol.md").read_text()
    assert not sorted(c for c in [*_HTTP_CODES.values(), "http_error"] if f"`{c}`" not in protocol)


ROOT = DOCS.parent
_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def _prose(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as
    hyphens, a repeated one suffixed -1, -2, ..."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(path):
        if match := _HEADING.match(line):
            slug = re.sub(r"[^\w\- ]", "", match[1].lower()).replace(" ", "-")
            found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return found


def test_every_relative_link_in_the_documents_reaches_a_file_and_heading_of_the_repository() -> None:
    broken = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        for line in _prose(page):
            for target in _LINK.findall(re.sub(r"`[^`]*`", "", line)):
                if re.match(r"[a-z]+:", target):  # https:, mailto:
                    continue
                path, _, anchor = target.partition("#")
                dest = (page.parent / path).resolve() if path else page
                if not dest.is_relative_to(ROOT) or not dest.exists():
                    broken.append((page.name, target, "no such file in the repository"))
                elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                    broken.append((page.name, target, "no such heading"))
    assert not broken


# `--slo rtt_p99_ms<=50` unquoted is a shell redirect (`<`), not an objective.
_SLO_ARGUMENT = re.compile(r"--slo(?:\s+|=)(?!-)(\S+)")


def test_every_slo_in_the_documents_and_the_load_testers_help_is_quoted_for_the_shell() -> None:
    texts = {str(page.relative_to(ROOT)): page.read_text() for page in [ROOT / "README.md", *DOCS.rglob("*.md")]}
    for name in all_scenarios():
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            load_test_parser(all_scenarios()).parse_args([name, "--help"])
        texts[f"{name} --help"] = out.getvalue()
    found = [(where, value) for where, text in texts.items() for value in _SLO_ARGUMENT.findall(text)]
    assert len(found) >= 10  # the examples are there to be checked
    assert [(where, value) for where, value in found if value[0] not in "'\""] == []
