"""The tester: its pages, JSON API, proxy, try and inspect pages; :func:`line_token.web.app.create_app` builds it."""
