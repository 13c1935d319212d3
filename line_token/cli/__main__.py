"""``python -m line_token.cli``: the same as the ``line-token`` command."""
from .main import main

main()
