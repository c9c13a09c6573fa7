"""Commands that load their module only when called: ``jiradrift run`` never imports the emulator.

    COMMANDS = {"run": LazyCommand("jiradrift.cmd.run", "run_command", "Run the operator.")}
    app = typer.Typer(cls=lazy_group(COMMANDS))

A command is named by its module and attribute (a string, so neither Python nor the import contract
sees an import of it), and imported when the command line resolves to it. ``jiradrift --help`` lists
every command from the one-line help given here, importing none of them. A command whose module
needs what this installation lacks (the ``[dev]`` extra's synchronous ``kubernetes`` client, or the
emulator, which the operator image does not carry) answers with one line saying how to get it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click  # typer >= 0.29 vendors click (pyproject)
from typer.core import TyperCommand, TyperGroup

from jiradrift.cmd.errors import EXIT_USAGE


@dataclass(frozen=True)
class LazyCommand:
    """``module:attribute`` (a command function or a :class:`typer.Typer` group) and its one-line help."""

    module: str
    attribute: str
    help: str
    install: str = "pip install jira-drift-operator"
    """What to run when the module cannot be imported here (named in the error)."""
    requires: tuple[str, ...] = ()
    """Top-level packages of an extra the command needs beyond its own imports (checked first)."""


class MissingCommand(_click.ClickException):
    exit_code = EXIT_USAGE


def load_command(name: str, spec: LazyCommand) -> _click.Command:
    """The click command of ``spec``; one that explains what is missing when its module cannot load."""
    for package in spec.requires:
        if importlib.util.find_spec(package) is None:
            return _missing(name, spec, package)
    try:
        target: Any = getattr(importlib.import_module(spec.module), spec.attribute)
    except ModuleNotFoundError as exc:
        return _missing(name, spec, exc.name or spec.module)
    if isinstance(target, typer.Typer):
        command: _click.Command = typer.main.get_group(target)  # a group, as add_typer made it
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


def _missing(name: str, spec: LazyCommand, module: str) -> _click.Command:
    message = (
        f"`jiradrift {name}` needs the module {module}, which this installation does not have; "
        f"install it with: {spec.install}"
    )

    def fail(*_args: object, **_kwargs: object) -> None:
        raise MissingCommand(message)

    return TyperCommand(
        name=name,
        callback=fail,
        help=f"{spec.help} (not installed here: {spec.install})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
    )


def lazy_group(commands: Mapping[str, LazyCommand]) -> type[TyperGroup]:
    """A :class:`TyperGroup` class whose ``commands`` load on use (pass it as ``typer.Typer(cls=...)``)."""

    class LazyGroup(TyperGroup):
        def list_commands(self, ctx: _click.Context) -> list[str]:
            return [*self.commands, *(name for name in commands if name not in self.commands)]

        def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
            loaded = self.commands.get(cmd_name)
            if loaded is not None or cmd_name not in commands:
                return loaded
            # Listing (help, completion): a stand-in with the help line; resolve_command loads the real one.
            spec = commands[cmd_name]
            return TyperCommand(name=cmd_name, help=spec.help, short_help=spec.help)

        def resolve_command(
            self, ctx: _click.Context, args: list[str]
        ) -> tuple[str | None, _click.Command | None, list[str]]:
            name = args[0] if args else ""
            if name in commands and name not in self.commands:
                self.commands[name] = load_command(name, commands[name])
            return super().resolve_command(ctx, args)

    return LazyGroup
