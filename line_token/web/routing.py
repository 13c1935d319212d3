"""URL rules whose builders are compiled at their first ``url_for``, not when the rule is added.

Werkzeug compiles two Python functions per rule (to build its URL, with and without extra query
arguments) as the rule is added: about 0.7 ms a rule, 40 ms of `import app` for our 60-odd rules,
most of which a process never builds a URL for (LINE's endpoints, the admin API). Matching (the
regex part) is still prepared at once; only the builders wait for their first use.
"""
from __future__ import annotations

import typing as t

from werkzeug.routing import Rule


class LazyBuilderRule(Rule):
    """A werkzeug ``Rule`` whose URL builders compile on first use (then exactly as werkzeug's own)."""

    def _compile_builder(self, append_unknown: bool = True) -> t.Callable[..., tuple[str, str]]:
        # Werkzeug calls this twice from compile() and binds what it gets to the rule; a later compile()
        # (the rule rebound) replaces both. Two threads building the first URL at once compile it twice,
        # harmlessly: the same function either way.
        compile_builder = super()._compile_builder
        compiled: list = []

        def build(rule: Rule, /, **values: t.Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(compile_builder(append_unknown).__get__(rule, None))
            return compiled[0](**values)  # positional-only above: a URL argument may be named "rule"

        return build
