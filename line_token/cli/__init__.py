"""``line-token``: the command line."""
