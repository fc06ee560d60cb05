"""``python -m raystra.cli`` runs the ``raystra`` command."""

from raystra.cli.main import main

main()
