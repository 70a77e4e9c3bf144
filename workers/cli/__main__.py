"""``python -m workers.cli``: the same commands as the ``sharehub`` script."""

from workers.cli.app import app

app()
