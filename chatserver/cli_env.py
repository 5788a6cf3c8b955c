"""Every command-line option also from a ``CHATSERVER_*`` environment variable (docs/configuration.md,
"Command line").

The naming rule: an option that sets a setting (every ``serve`` flag, ``--data-dir`` and ``--db`` of
every command) reads the setting's variable, ``CHATSERVER_<SETTING>``, through ``load_settings``.
Every other option of ``chatserver <command> <subcommand>`` reads
``CHATSERVER_<COMMAND>_<SUBCOMMAND>_<OPTION>``, upper case with ``-`` as ``_``:
``chatserver agent add --password`` reads ``CHATSERVER_AGENT_ADD_PASSWORD``. Each subcommand has
variables of its own, so one exported for ``agent add`` never changes what ``agent update`` does.

A flag on the command line wins over its variable; an empty variable counts as unset; a required
option (or one of a required pair) is satisfied by its variable. A yes/no option's variable is
``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``; anything else, or a value its
option would refuse, stops the command with exit status 2 and the variable's name (never its value).
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import ENV_PREFIX, env_name

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(eq=False)
class EnvOption:
    """An option and its variable. ``setting`` options are read by ``load_settings``, the others
    here, after parsing (argparse knows them as optional with a ``None`` default)."""

    action: argparse.Action
    env: str
    setting: bool
    required: bool = False
    default: Any = None

    @property
    def flag(self) -> str:
        return max(self.action.option_strings, key=len)


@dataclass(eq=False)
class OneOf:
    """Mutually exclusive options, one of which is needed when ``required``."""

    group: Any  # argparse's _MutuallyExclusiveGroup
    required: bool
    options: list[EnvOption] = field(default_factory=list)


def _with_env(text: str | None, env: str) -> str:
    return f"{text} [env {env}]" if text else f"[env {env}]"


class CommandParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose options are each declared with their variable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command: tuple[str, ...] = ()
        self.env_options: list[EnvOption] = []
        self.one_ofs: list[OneOf] = []

    def subcommand(self, commands: argparse._SubParsersAction[CommandParser], name: str,
                   help: str) -> CommandParser:
        sub = commands.add_parser(name, help=help)
        sub.command = (*self.command, name)
        return sub

    def env_for(self, flag: str) -> str:
        """The variable of this command's option ``flag`` (one that is not a setting)."""
        return ENV_PREFIX + "_".join((*self.command, flag.lstrip("-"))).replace("-", "_").upper()

    def setting(self, *flags: str, **kwargs: Any) -> EnvOption:
        """A flag that sets the setting of the same name, read with its variable by ``load_settings``."""
        action = self.add_argument(*flags, **kwargs)
        option = EnvOption(action, env_name(action.dest), setting=True)
        action.help = _with_env(action.help, option.env)
        self.env_options.append(option)
        return option

    def option(self, *flags: str, required: bool = False, default: Any = None, one_of: OneOf | None = None,
               **kwargs: Any) -> EnvOption:
        """An option of this command with its own variable (``env_for``)."""
        container: Any = one_of.group if one_of is not None else self
        action = container.add_argument(*flags, default=None, **kwargs)
        option = EnvOption(action, self.env_for(max(flags, key=len)), setting=False, required=required,
                           default=default)
        action.help = _with_env(action.help, option.env) + (" (required)" if required else "")
        self.env_options.append(option)
        if one_of is not None:
            one_of.options.append(option)
        return option

    def one_of(self, *, required: bool) -> OneOf:
        group = OneOf(self.add_mutually_exclusive_group(), required)
        self.one_ofs.append(group)
        return group

    # -- after parsing --------------------------------------------------------------------------

    def chosen(self, args: argparse.Namespace) -> CommandParser:
        """The (sub)command's parser that ``args`` were parsed by."""
        parser = self
        while True:
            commands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
            if commands is None:
                return parser
            parser = commands.choices[getattr(args, commands.dest)]

    def apply_environment(self, args: argparse.Namespace, environ: Mapping[str, str]) -> None:
        """Fill the options not given on the command line from their variables, then from their
        defaults; refuse (exit 2) a bad value or a required option given neither way."""
        grouped = {id(o) for g in self.one_ofs for o in g.options}
        for option in self.env_options:
            if option.setting or id(option) in grouped:
                continue
            if getattr(args, option.action.dest) is None:
                setattr(args, option.action.dest, self._from_env(option, environ))
            if getattr(args, option.action.dest) is None:
                if option.required:
                    self.error(f"the following arguments are required: {option.flag} (or {option.env})")
                setattr(args, option.action.dest, option.default)
        for group in self.one_ofs:
            if any(getattr(args, o.action.dest) is not None for o in group.options):
                continue  # the command line chose; the others' variables do not count
            from_env = [o for o in group.options if environ.get(o.env)]
            if len(from_env) > 1:
                self.error(f"set only one of {', '.join(o.env for o in from_env)}")
            for option in from_env:
                setattr(args, option.action.dest, self._from_env(option, environ))
            if group.required and not from_env:
                self.error(f"one of the arguments {' '.join(o.flag for o in group.options)} is required "
                           f"(or one of {', '.join(o.env for o in group.options)})")

    def _from_env(self, option: EnvOption, environ: Mapping[str, str]) -> Any:
        raw = environ.get(option.env)
        if raw is None or raw == "":
            return None
        action = option.action
        if isinstance(action, argparse._StoreTrueAction):
            word = raw.strip().lower()
            if word not in _TRUE | _FALSE:
                self.error(f"{option.env} must be 1, true, yes, on, 0, false, no or off")
            return True if word in _TRUE else None
        try:
            value = action.type(raw) if callable(action.type) else raw
        except (TypeError, ValueError):
            self.error(f"{option.env} is not a valid value for {option.flag}")
        if action.choices is not None and value not in action.choices:
            self.error(f"{option.env} must be one of {', '.join(map(str, action.choices))}")
        return value


def unknown_variables(parser: CommandParser, environ: Mapping[str, str], settings: Iterable[str]) -> list[str]:
    """A warning for each ``CHATSERVER_*`` variable in ``environ`` that no setting (``settings``: their
    variables) and no option of any command reads, naming the closest known one (a typo is
    otherwise silently ignored). Names only, never values."""
    known = set(settings) | {o.env for command in every_command(parser) for o in command.env_options}
    warnings = []
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"{name} is not a variable chatserver reads; it is ignored{hint}")
    return warnings


def every_command(parser: CommandParser) -> list[CommandParser]:
    """The parsers of every (sub)command that runs something (those without subcommands)."""
    commands = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if commands is None:
        return [parser]
    return [leaf for sub in dict.fromkeys(commands.choices.values()) for leaf in every_command(sub)]


__all__ = ["CommandParser", "EnvOption", "OneOf", "every_command", "unknown_variables"]
