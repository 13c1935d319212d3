"""The sandbox: an offline emulator of LINE's channel access token API. Imports only :mod:`line_token.core`."""
