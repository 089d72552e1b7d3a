"""Editor support: the DyGram language server (`dygraph lsp`) and the TextMate grammar generator."""
