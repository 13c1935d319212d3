"""LINE's side, without Flask: keys and JWTs, LINE's constants, messages and errors, the inspector,
the HTTP client to LINE. Imports nothing of ours above it (tests/test_layers.py)."""
