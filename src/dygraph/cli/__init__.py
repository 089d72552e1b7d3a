"""The `dygraph` command. Thin: each subcommand lives in its own module, imported only when used,
so `dygraph check` does not pay for the runtime, the renderer or the language server."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute"; modules are imported lazily.
COMMANDS: dict[str, str] = {
    "check": "dygraph.cli.check:check",
    "compile": "dygraph.cli.check:compile_",
    "schema": "dygraph.cli.check:schema",
    "render": "dygraph.cli.render:render",
    "run": "dygraph.cli.run:run",
    "runs": "dygraph.cli.runs:runs",
    "fmt": "dygraph.cli.fmt:fmt",
    "lsp": "dygraph.cli.lsp:lsp",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if self._load(n) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        spec = COMMANDS.get(name)
        if spec is None:
            return None
        module_name, attr = spec.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not installed in this build
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dygraph")
def main() -> None:
    """dygraph — compile, check, render and run DyGram machines."""


# Commands that hold no resources once their output is written: they may skip interpreter teardown.
_FAST_EXIT = frozenset({"check", "compile", "schema"})


def console() -> None:
    """Entry point of the `dygraph` script.

    `check`, `compile` and `schema` flush their output and leave with `os._exit`, skipping the
    interpreter's teardown of every imported module — a noticeable share of a cold `dygraph check`.
    Every other command (runs, servers, anything with threads or open stores) exits normally.
    """
    import sys

    if len(sys.argv) < 2 or sys.argv[1] not in _FAST_EXIT:
        main()
        return
    import os

    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed pipe (`| head`): nothing more to say
            code = code or 1
    os._exit(code)
