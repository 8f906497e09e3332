"""`python -m brukerplan` is the `brukerplan` command."""

from brukerplan.cli import app

app()
