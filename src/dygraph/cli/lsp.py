"""`dygraph lsp`: the DyGram language server over stdio."""

from __future__ import annotations

import click


@click.command()
@click.option("--stdio", is_flag=True, help="Talk LSP over stdin/stdout (the default; editors pass it).")
def lsp(stdio: bool) -> None:
    """Run the DyGram language server (diagnostics, hover, navigation, completion, formatting).

    Editors start it and speak the Language Server Protocol on stdin/stdout.
    """
    from dygraph.lsp.server import main

    main()
