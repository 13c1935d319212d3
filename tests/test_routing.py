"""The app's URL rules compile their URL builders at the first url_for (web/routing.py): every URL they build
is the one werkzeug's own rules build, links in pages and redirects unchanged."""
from __future__ import annotations

from flask import Flask, url_for
from werkzeug.routing import IntegerConverter, Map, Rule

from line_token.web.routing import LazyBuilderRule


def sample_values(rule: Rule) -> dict:
    """A value for each of the rule's arguments (a number where it takes one, else text that needs quoting),
    and one the rule does not take, which goes to the query string."""
    values = {name: 7 if isinstance(rule._converters.get(name), IntegerConverter) else "a b/é"
              for name in rule.arguments if name not in (rule.defaults or {})}
    values["q"] = "x&y"
    return values


def test_every_url_the_app_builds_is_the_one_werkzeug_builds(app):
    lazy_rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    assert len(lazy_rules) > 40 and all(isinstance(r, LazyBuilderRule) for r in lazy_rules)
    eager = Map([Rule(r.rule, **r.get_empty_kwargs()) for r in app.url_map.iter_rules()],
                strict_slashes=app.url_map.strict_slashes, merge_slashes=app.url_map.merge_slashes)
    eager_urls = eager.bind("localhost")
    with app.test_request_context():
        for rule in lazy_rules:
            values = sample_values(rule)
            expected = eager_urls.build(rule.endpoint, values, method=sorted(rule.methods)[0])
            built = app.url_map.bind("localhost").build(rule.endpoint, values, method=sorted(rule.methods)[0])
            assert built == expected, rule.rule
            assert "q=x%26y" in built
            if not rule.arguments - set(rule.defaults or {}):
                assert url_for(rule.endpoint) == eager_urls.build(rule.endpoint, {})


def test_a_url_argument_may_be_named_rule_and_defaults_fill_in():
    app = Flask(__name__)
    app.url_rule_class = LazyBuilderRule
    app.add_url_rule("/r/<rule>/<int:n>", "r", lambda rule, n: "")
    def d(k):
        return k

    app.add_url_rule("/d/", "d", d, defaults={"k": "v"})
    app.add_url_rule("/d/<k>", "d", d)
    with app.test_request_context():
        assert url_for("r", rule="a b", n=3, extra="z") == "/r/a%20b/3?extra=z"
        assert url_for("d") == "/d/"
        assert url_for("d", k="w") == "/d/w"
        assert url_for("r", rule="x", n=1, _external=True) == "http://localhost/r/x/1"
    assert app.test_client().get("/d/w").get_data(as_text=True) == "w"
