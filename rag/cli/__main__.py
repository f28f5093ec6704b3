"""``python -m rag.cli`` runs the ``rag`` command (the tests and the HTTP benchmark start it so)."""

import sys

from rag.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
