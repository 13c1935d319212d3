"""The entry the Procfile names: ``gunicorn --config gunicorn.conf.py app:app``.

Also ``flask --app app ...``. The code lives in the ``line_token`` package.
"""
from line_token import create_app

app = create_app()
