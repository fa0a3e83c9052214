"""The ``carbonshift`` command line (Typer + Rich). ``main`` assembles the subcommands."""
