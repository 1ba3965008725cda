"""CLI subcommands, one module per job; each exposes `register(app)`."""
