"""The endpoint registry: every LINE endpoint this project knows, described once.

LINE's eight channel access token endpoints (docs/line-api.md §5) and the Messaging API's three read calls
that prove a token works (§10). For each: method, path, the fields it takes (in LINE's order, which are
required and which are secret), who authenticates the request, the fields of its 2xx answer, where
docs/line-api.md describes it, and the LINE SDK methods that call it.

Everything else reads this table: the HTTP client (``line_client.ENDPOINTS``, ``request_fields``), the
sandbox (its LINE routes are registered from it), the proxy pages and step 6 (their pages and the fields
they send), the CLI (``--field`` choices), the snippets (SDK methods and their arguments) and the masking
of secrets (``display.SECRET_FIELDS``). To add an endpoint, add one entry here (docs/ARCHITECTURE.md,
"Endpoint registry").
"""
from __future__ import annotations

from dataclasses import dataclass

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# Who authenticates a request: a JWT assertion signed with the channel's key, the channel ID and secret,
# the token in ``Authorization: Bearer``, or nobody (the request carries only the token it asks about).
ASSERTION = "assertion"
CLIENT_SECRET = "client_secret"
BEARER = "bearer"
NONE = "none"

LINE_API_DOCS = "docs/line-api.md"


@dataclass(frozen=True)
class Field:
    """A request field: its name, whether LINE requires it, whether it is a secret (masked when shown), and
    LINE's one accepted value where there is one (sent when none is given)."""

    name: str
    required: bool = True
    secret: bool = False
    default: str = ""


@dataclass(frozen=True)
class Endpoint:
    """One LINE endpoint. ``auth`` maps each way of authenticating to the fields sent that way, in LINE's
    order (only ``issue_stateless`` has two); ``fields`` are all the fields it takes, in the SDKs' argument
    order."""

    name: str
    method: str
    path: str
    auth: tuple[tuple[str, tuple[str, ...]], ...]
    fields: tuple[Field, ...]
    answer: tuple[str, ...]
    section: str  # docs/line-api.md §
    anchor: str  # the section's anchor in docs/line-api.md
    python_method: str  # line-bot-sdk v3
    node_method: str  # @line/bot-sdk

    @property
    def docs(self) -> str:
        """Where docs/line-api.md describes it, as a relative link."""
        return f"{LINE_API_DOCS}#{self.anchor}"

    @property
    def authenticated_by(self) -> tuple[str, ...]:
        return tuple(kind for kind, _ in self.auth)

    def sends(self, auth: str | None = None) -> tuple[str, ...]:
        """The fields sent when authenticating by ``auth`` (default: the first way), in LINE's order."""
        if auth is None:
            return self.auth[0][1]
        return dict(self.auth)[auth]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """The fields required whichever way the request authenticates (issue_stateless: only grant_type)."""
        return tuple(f.name for f in self.fields if f.required and all(f.name in sent for _, sent in self.auth))


GRANT = Field("grant_type", default=GRANT_TYPE)
ASSERTION_TYPE_FIELD = Field("client_assertion_type", default=ASSERTION_TYPE)
CLIENT_ASSERTION = Field("client_assertion", secret=True)
CLIENT_ID = Field("client_id")
SECRET = Field("client_secret", secret=True)
ACCESS_TOKEN = Field("access_token", secret=True)

_ISSUE_ANSWER = ("access_token", "expires_in", "token_type")
_VERIFY_ANSWER = ("client_id", "expires_in", "scope")


def _endpoint(name: str, method: str, path: str, auth, fields, answer, section: str, anchor: str,
              sdk: tuple[str, str]) -> Endpoint:
    return Endpoint(name, method, path, tuple(auth), tuple(fields), tuple(answer), section, anchor, *sdk)


REGISTRY: tuple[Endpoint, ...] = (
    _endpoint("issue_v21", "POST", "/oauth2/v2.1/token",
              [(ASSERTION, ("grant_type", "client_assertion_type", "client_assertion"))],
              [GRANT, ASSERTION_TYPE_FIELD, CLIENT_ASSERTION], (*_ISSUE_ANSWER, "key_id"),
              "5.1", "51-post-oauth2v21token-issue-a-v21-token",
              ("issue_channel_token_by_jwt", "issueChannelTokenByJWT")),
    _endpoint("kids_v21", "GET", "/oauth2/v2.1/tokens/kid",
              [(ASSERTION, ("client_assertion_type", "client_assertion"))],
              [ASSERTION_TYPE_FIELD, CLIENT_ASSERTION], ("kids",),
              "5.2", "52-get-oauth2v21tokenskid-key-ids-of-the-valid-v21-tokens",
              ("gets_all_valid_channel_access_token_key_ids", "getsAllValidChannelAccessTokenKeyIds")),
    _endpoint("verify_v21", "GET", "/oauth2/v2.1/verify",
              [(NONE, ("access_token",))], [ACCESS_TOKEN], _VERIFY_ANSWER,
              "5.3", "53-get-oauth2v21verify-verify-a-v21-token",
              ("verify_channel_token_by_jwt", "verifyChannelTokenByJWT")),
    _endpoint("revoke_v21", "POST", "/oauth2/v2.1/revoke",
              [(CLIENT_SECRET, ("client_id", "client_secret", "access_token"))],
              [CLIENT_ID, SECRET, ACCESS_TOKEN], (),
              "5.4", "54-post-oauth2v21revoke-revoke-a-v21-token",
              ("revoke_channel_token_by_jwt", "revokeChannelTokenByJWT")),
    _endpoint("issue_stateless", "POST", "/oauth2/v3/token",
              [(ASSERTION, ("grant_type", "client_assertion_type", "client_assertion")),
               (CLIENT_SECRET, ("grant_type", "client_id", "client_secret"))],
              [GRANT, ASSERTION_TYPE_FIELD, CLIENT_ASSERTION, CLIENT_ID, SECRET], _ISSUE_ANSWER,
              "5.5", "55-post-oauth2v3token-issue-a-stateless-token",
              ("issue_stateless_channel_token", "issueStatelessChannelToken")),
    _endpoint("issue_v2", "POST", "/v2/oauth/accessToken",
              [(CLIENT_SECRET, ("grant_type", "client_id", "client_secret"))],
              [GRANT, CLIENT_ID, SECRET], _ISSUE_ANSWER,
              "5.6", "56-post-v2oauthaccesstoken-issue-a-short-lived-token",
              ("issue_channel_token", "issueChannelToken")),
    _endpoint("verify_v2", "POST", "/v2/oauth/verify",
              [(NONE, ("access_token",))], [ACCESS_TOKEN], _VERIFY_ANSWER,
              "5.7", "57-post-v2oauthverify-verify-a-short-lived-or-long-lived-token",
              ("verify_channel_token", "verifyChannelToken")),
    _endpoint("revoke_v2", "POST", "/v2/oauth/revoke",
              [(NONE, ("access_token",))], [ACCESS_TOKEN], (),
              "5.8", "58-post-v2oauthrevoke-revoke-a-short-lived-or-long-lived-token",
              ("revoke_channel_token", "revokeChannelToken")),
    # The Messaging API's read-only calls that prove a token works: no fields, only the token as Bearer.
    _endpoint("bot_info", "GET", "/v2/bot/info", [(BEARER, ())], [],
              ("userId", "basicId", "premiumId", "displayName", "pictureUrl", "chatMode", "markAsReadMode"),
              "10", "10-messaging-api-read-calls-step-6-try-the-token", ("get_bot_info", "getBotInfo")),
    _endpoint("quota", "GET", "/v2/bot/message/quota", [(BEARER, ())], [], ("type", "value"),
              "10", "10-messaging-api-read-calls-step-6-try-the-token", ("get_message_quota", "getMessageQuota")),
    _endpoint("quota_consumption", "GET", "/v2/bot/message/quota/consumption", [(BEARER, ())], [], ("totalUsage",),
              "10", "10-messaging-api-read-calls-step-6-try-the-token",
              ("get_message_quota_consumption", "getMessageQuotaConsumption")),
)

ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in REGISTRY}

# The token endpoints (docs/line-api.md §5) and the Messaging API calls authenticated by a Bearer token (§10).
TOKEN_ENDPOINTS = tuple(e.name for e in REGISTRY if BEARER not in e.authenticated_by)
BEARER_ENDPOINTS = tuple(e.name for e in REGISTRY if BEARER in e.authenticated_by)

# Every field that carries a secret, from any endpoint: masked wherever a request is shown.
SECRET_FIELDS = tuple(dict.fromkeys(f.name for e in REGISTRY for f in e.fields if f.secret))
# LINE's constants, sent when a caller gives none.
FIELD_DEFAULTS = {f.name: f.default for e in REGISTRY for f in e.fields if f.default}


def get(name: str) -> Endpoint:
    """The endpoint called ``name``; KeyError if the registry has none."""
    return ENDPOINTS[name]
