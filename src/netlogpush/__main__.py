"""``python -m netlogpush``: the same as the ``netlogpush`` command."""

from netlogpush.cli import app

app(prog_name="netlogpush")
