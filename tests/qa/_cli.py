"""Running the CLI in process, failing the test on any uncaught exception (a traceback for the user)."""

from __future__ import annotations

import traceback

from click.testing import CliRunner, Result

from dygraph.cli import main


def run_cli(*args, input: str | bytes | None = None) -> Result:
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("uncaught exception:\n" + "".join(traceback.format_exception(*result.exc_info)))
    return result
