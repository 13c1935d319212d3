// Step 6 with LINE's official Node SDK, unmodified: getBotInfo, getMessageQuota and
// getMessageQuotaConsumption against the sandbox at the root of its own origin.
// Input on stdin: {"baseURL": "http://127.0.0.1:PORT", "tokens": {"kind": "token", ...}, "revoked": "token"}.
// Output on stdout: {"kind": {"info", "quota", "consumption"}, ..., "revoked": {"status", "body"}}.
// Driven by tests/test_bot_sdk.py.
import { messagingApi, HTTPFetchError } from "@line/bot-sdk";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const client = (token) =>
  new messagingApi.MessagingApiClient({ channelAccessToken: token, baseURL: job.baseURL });

const report = {};
for (const [kind, token] of Object.entries(job.tokens)) {
  const api = client(token);
  report[kind] = {
    info: await api.getBotInfo(),
    quota: await api.getMessageQuota(),
    consumption: await api.getMessageQuotaConsumption(),
  };
}
try {
  await client(job.revoked).getBotInfo();
  report.revoked = { status: 200 };
} catch (error) {
  if (!(error instanceof HTTPFetchError)) throw error;
  report.revoked = { status: error.status, body: JSON.parse(error.body) };
}
process.stdout.write(JSON.stringify(report));
