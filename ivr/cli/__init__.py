"""The `ivr` command line: one module per command group."""
