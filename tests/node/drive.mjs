// Drives every public method of @line/bot-sdk's channelAccessToken.ChannelAccessTokenClient, unmodified,
// against the base URL given (the sandbox's own origin), and prints one JSON report on stdout.
// Input (JSON in the SDK_INPUT environment variable): {baseURL, channelId, channelSecret, assertion}.
// The SDK builds each URL itself (new URL(path, baseURL)); nothing here touches fetch.
import { channelAccessToken } from "@line/bot-sdk";

const input = JSON.parse(process.env.SDK_INPUT);
const client = new channelAccessToken.ChannelAccessTokenClient({ baseURL: input.baseURL });
const GRANT = "client_credentials";
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const report = {};

async function call(name, fn) {
  try {
    const value = await fn();
    if (value && value.httpResponse) {
      report[name] = { ok: true, status: value.httpResponse.status, body: value.body,
                       requestId: value.httpResponse.headers.get("x-line-request-id") };
    } else {
      report[name] = { ok: true, body: value === undefined ? null : value };
    }
    return value;
  } catch (e) {
    report[name] = { ok: false, error: String(e && e.message || e), status: e && e.status,
                     body: e && e.body };
    return null;
  }
}

const { channelId, channelSecret, assertion } = input;

// v2.1: issue (twice: plain and WithHttpInfo), kids, verify, revoke.
const v21 = await call("issueChannelTokenByJWT", () => client.issueChannelTokenByJWT(GRANT, JWT_BEARER, assertion));
const v21b = await call("issueChannelTokenByJWTWithHttpInfo",
  () => client.issueChannelTokenByJWTWithHttpInfo(GRANT, JWT_BEARER, assertion));
await call("getsAllValidChannelAccessTokenKeyIds",
  () => client.getsAllValidChannelAccessTokenKeyIds(JWT_BEARER, assertion));
await call("getsAllValidChannelAccessTokenKeyIdsWithHttpInfo",
  () => client.getsAllValidChannelAccessTokenKeyIdsWithHttpInfo(JWT_BEARER, assertion));
await call("verifyChannelTokenByJWT", () => client.verifyChannelTokenByJWT(v21.access_token));
await call("verifyChannelTokenByJWTWithHttpInfo",
  () => client.verifyChannelTokenByJWTWithHttpInfo(v21b.body.access_token));
await call("revokeChannelTokenByJWT", () => client.revokeChannelTokenByJWT(channelId, channelSecret, v21.access_token));
await call("revokeChannelTokenByJWTWithHttpInfo",
  () => client.revokeChannelTokenByJWTWithHttpInfo(channelId, channelSecret, v21b.body.access_token));
await call("verifyAfterRevoke", () => client.verifyChannelTokenByJWT(v21.access_token));

// Stateless: the generic method (both variants) and its two convenience forms, with their twins.
await call("issueStatelessChannelToken",
  () => client.issueStatelessChannelToken(GRANT, JWT_BEARER, assertion, "", ""));
await call("issueStatelessChannelTokenWithHttpInfo",
  () => client.issueStatelessChannelTokenWithHttpInfo(GRANT, "", "", channelId, channelSecret));
await call("issueStatelessChannelTokenByJWTAssertion",
  () => client.issueStatelessChannelTokenByJWTAssertion(assertion));
await call("issueStatelessChannelTokenByJWTAssertionWithHttpInfo",
  () => client.issueStatelessChannelTokenByJWTAssertionWithHttpInfo(assertion));
await call("issueStatelessChannelTokenByClientSecret",
  () => client.issueStatelessChannelTokenByClientSecret(channelId, channelSecret));
await call("issueStatelessChannelTokenByClientSecretWithHttpInfo",
  () => client.issueStatelessChannelTokenByClientSecretWithHttpInfo(channelId, channelSecret));

// Short-lived: issue, verify, revoke, and the twins.
const short = await call("issueChannelToken", () => client.issueChannelToken(GRANT, channelId, channelSecret));
const shortB = await call("issueChannelTokenWithHttpInfo",
  () => client.issueChannelTokenWithHttpInfo(GRANT, channelId, channelSecret));
await call("verifyChannelToken", () => client.verifyChannelToken(short.access_token));
await call("verifyChannelTokenWithHttpInfo", () => client.verifyChannelTokenWithHttpInfo(shortB.body.access_token));
await call("revokeChannelToken", () => client.revokeChannelToken(short.access_token));
await call("revokeChannelTokenWithHttpInfo", () => client.revokeChannelTokenWithHttpInfo(shortB.body.access_token));
await call("verifyShortAfterRevoke", () => client.verifyChannelToken(short.access_token));

// Every public method of the class, so a new SDK method can't go untested.
report.__methods = Object.getOwnPropertyNames(channelAccessToken.ChannelAccessTokenClient.prototype)
  .filter((name) => name !== "constructor");
process.stdout.write(JSON.stringify(report));
