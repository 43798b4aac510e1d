"""`python -m ivr.cli`: the same as the `ivr` command."""

from .main import main

main()
