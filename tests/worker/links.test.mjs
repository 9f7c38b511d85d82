// Results as links: "response_format": "url" (or defaults.responseFormat) stores each image in
// the R2 bucket IMAGES and returns data[i].url, a signed, expiring link served by
// GET /v1/files/<id> without a JWT: the exact bytes, content-type, ETag, cache-control,
// If-None-Match → 304, HEAD; a tampered or expired link → 403, an object that is gone → 404;
// a failing R2 write returns the image inline with a warning.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, test } from "node:test";
import { makePngOfSize } from "../mock-server/images.mjs";
import {
  ALLOWED_ORIGINS,
  URL_SIGNING_KEY,
  devToken,
  expectError,
  expectStatus,
  fakeKey,
  generate,
  generationRequests,
  registerSecret,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
} from "./helpers.mjs";

// The image every provider answers with: labelled, so bytes from elsewhere cannot pass.
const IMAGE = makePngOfSize(40_000, { label: `links ${crypto.randomBytes(8).toString("hex")}` });
registerSecret(URL_SIGNING_KEY);

let mock;
let worker;
const sub = uid("links");
const token = devToken(sub);
const openaiKey = fakeKey("links", "openai");

before(async () => {
  mock = await startMockServer({ imageBase64: IMAGE.toString("base64") });
  worker = await startWorker({ mockUrl: mock.url });
  await storeKey(worker, token, "openai", openaiKey);
  await storeConfig(worker, token, [{ provider: "openai" }]);
});

after(async () => {
  await worker?.close();
  await mock?.close();
});

/** A link as the Worker signs it (the documented message), for forged and expired links. */
function sign(id, exp, key = URL_SIGNING_KEY) {
  const sig = crypto.createHmac("sha256", key).update(`imagegen-file-v1\n${id}\n${exp}`).digest("base64url");
  return `/v1/files/${id}?exp=${exp}&sig=${sig}`;
}

/** GET (or HEAD) of a link, path or full URL, without a token. */
async function fetchLink(link, { method = "GET", headers = {} } = {}) {
  const url = new URL(link, worker.url);
  const res = await fetch(`${worker.url}${url.pathname}${url.search}`, { method, headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: bytes.length ? safeJson(bytes) : undefined };
}

function safeJson(bytes) {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
}

const parts = (link) => {
  const url = new URL(link);
  return { id: url.pathname.split("/").pop(), exp: Number(url.searchParams.get("exp")), sig: url.searchParams.get("sig") };
};

async function linksFor(body) {
  const res = await generate(worker, token, { prompt: "a lighthouse as links", ...body });
  expectStatus(res, 200, "generation with links");
  return res;
}

describe("response_format url", () => {
  let res;
  before(async () => {
    res = await linksFor({ n: 3, response_format: "url" });
  });

  test("each image is a link on the Worker's origin, nothing inline", () => {
    assert.equal(res.json.data.length, 3);
    const now = Math.floor(Date.now() / 1000);
    for (const item of res.json.data) {
      assert.equal(item.b64_json, undefined, "no base64 next to a link");
      assert.match(item.url, new RegExp(`^${worker.url}/v1/files/[0-9a-f]{32}\\?exp=\\d+&sig=[A-Za-z0-9_-]{43}$`));
      const { exp } = parts(item.url);
      assert.ok(exp > now + 3500 && exp <= now + 3601, `exp ${exp} is about an hour away`);
      assert.equal(item.mime_type, "image/png");
      assert.equal(item.provider, "openai");
      assert.equal(typeof item.model, "string");
    }
    assert.equal(new Set(res.json.data.map((d) => parts(d.url).id)).size, 3, "one object per image");
    assert.deepEqual(res.json.warnings, []);
    assert.ok(res.text.length < 2000, `the response is small (${res.text.length} chars)`);
  });

  test("links resolve to the exact bytes, with content-type, ETag and private caching", async () => {
    for (const item of res.json.data) {
      const file = await fetchLink(item.url);
      assert.equal(file.status, 200);
      assert.ok(file.bytes.equals(IMAGE), "the very bytes the provider sent");
      assert.equal(file.headers.get("content-type"), "image/png");
      assert.equal(file.headers.get("content-length"), String(IMAGE.length));
      assert.match(file.headers.get("etag") ?? "", /^"[^"]+"$/);
      const maxAge = Number(/^private, max-age=(\d+)$/.exec(file.headers.get("cache-control"))?.[1]);
      assert.ok(maxAge > 3500 && maxAge <= 3600, `max-age ${maxAge}`);
      assert.equal(file.headers.get("x-content-type-options"), "nosniff");
    }
  });

  test("the objects are in the bucket with their type and expiry", async () => {
    const { id, exp } = parts(res.json.data[0].url);
    const object = await (await worker.r2()).get(id);
    assert.ok(object, "stored under the link's id");
    assert.equal(object.httpMetadata.contentType, "image/png");
    assert.equal(Number(object.customMetadata.expires), exp);
    assert.ok(Buffer.from(await object.arrayBuffer()).equals(IMAGE));
  });

  test("If-None-Match with the ETag → 304 without a body; another ETag → 200", async () => {
    const link = res.json.data[1].url;
    const first = await fetchLink(link);
    const etag = first.headers.get("etag");
    const cached = await fetchLink(link, { headers: { "if-none-match": etag } });
    assert.equal(cached.status, 304);
    assert.equal(cached.bytes.length, 0);
    assert.equal(cached.headers.get("etag"), etag);
    const weak = await fetchLink(link, { headers: { "if-none-match": `"nope", W/${etag}` } });
    assert.equal(weak.status, 304);
    const other = await fetchLink(link, { headers: { "if-none-match": '"something-else"' } });
    assert.equal(other.status, 200);
    assert.ok(other.bytes.equals(IMAGE));
  });

  test("HEAD: the headers without the bytes", async () => {
    const head = await fetchLink(res.json.data[2].url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.bytes.length, 0);
    assert.equal(head.headers.get("content-type"), "image/png");
    assert.match(head.headers.get("etag") ?? "", /^"/);
  });

  test("tampered links → 403", async () => {
    const { id, exp, sig } = parts(res.json.data[0].url);
    const other = parts(res.json.data[1].url);
    const flipped = sig[0] === "A" ? `B${sig.slice(1)}` : `A${sig.slice(1)}`;
    const cases = {
      "signature changed": `/v1/files/${id}?exp=${exp}&sig=${flipped}`,
      "expiry extended": `/v1/files/${id}?exp=${exp + 1}&sig=${sig}`,
      "another object's id": `/v1/files/${other.id}?exp=${exp}&sig=${sig}`,
      "no signature": `/v1/files/${id}?exp=${exp}`,
      "no query": `/v1/files/${id}`,
      "signed with another key": sign(id, exp, `${URL_SIGNING_KEY}x`),
      "an extra parameter": `/v1/files/${id}?exp=${exp}&sig=${sig}&x=1`,
    };
    for (const [what, link] of Object.entries(cases)) {
      const r = await fetchLink(link);
      assert.equal(r.status, 403, what);
      assert.equal(r.json?.error?.code, "invalid_link", what);
      assert.ok(!r.bytes.includes(IMAGE.subarray(100, 200)), `${what}: no image bytes`);
    }
  });

  test("an expired link → 403 even though the object is still there", async () => {
    const { id } = parts(res.json.data[0].url);
    const r = await fetchLink(sign(id, Math.floor(Date.now() / 1000) - 1));
    assert.equal(r.status, 403);
    assert.match(r.json.error.message, /expired/);
  });

  test("a valid link to an object that is gone → 404", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const unknown = await fetchLink(sign(crypto.randomBytes(16).toString("hex"), exp));
    assert.equal(unknown.status, 404);
    const fresh = await linksFor({ response_format: "url" });
    const link = fresh.json.data[0].url;
    assert.equal((await fetchLink(link)).status, 200);
    await (await worker.r2()).delete(parts(link).id);
    const gone = await fetchLink(link);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.type, "not_found_error");
  });

  test("an object past its own expiry is refused (404) and deleted, whatever its link says", async () => {
    const id = crypto.randomBytes(16).toString("hex");
    const past = Math.floor(Date.now() / 1000) - 5;
    const bucket = await worker.r2();
    await bucket.put(id, new Uint8Array(IMAGE), { httpMetadata: { contentType: "image/png" }, customMetadata: { expires: String(past) } });
    const r = await fetchLink(sign(id, past + 3600));
    assert.equal(r.status, 404);
    assert.equal(await bucket.head(id), null, "the Worker deleted it");
  });

  test("links need no token and carry the CORS headers of the other routes", async () => {
    const link = new URL(res.json.data[0].url);
    const r = await fetch(`${worker.url}${link.pathname}${link.search}`, { headers: { origin: ALLOWED_ORIGINS[0] } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("access-control-allow-origin"), ALLOWED_ORIGINS[0]);
    await r.arrayBuffer();
    const post = await fetch(`${worker.url}${link.pathname}${link.search}`, { method: "DELETE" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
  });
});

describe("which responses get links", () => {
  test("defaults.responseFormat url gives links; the request's b64_json wins", async () => {
    const user = devToken(uid("links-default"));
    await storeKey(worker, user, "openai", fakeKey("links-default", "openai"));
    await storeConfig(worker, user, [{ provider: "openai" }], { defaults: { responseFormat: "url" } });
    const config = await worker.request("/v1/config", { token: user });
    assert.equal(config.json.defaults.responseFormat, "url");
    const linked = await generate(worker, user, { prompt: "by default" });
    expectStatus(linked, 200);
    assert.ok(linked.json.data[0].url, "a link by default");
    assert.ok((await fetchLink(linked.json.data[0].url)).bytes.equals(IMAGE));
    const inline = await generate(worker, user, { prompt: "inline please", response_format: "b64_json" });
    expectStatus(inline, 200);
    assert.ok(Buffer.from(inline.json.data[0].b64_json, "base64").equals(IMAGE));
    assert.equal(inline.json.data[0].url, undefined);
    // A stream keeps b64_json even with the default.
    const streamed = await generate(worker, user, { prompt: "streamed", stream: true });
    expectStatus(streamed, 200);
    assert.match(streamed.text, /"b64_json"/);
    assert.doesNotMatch(streamed.text, /\/v1\/files\//);
  });

  test("an unknown response_format, and url with stream, are 400 before any provider call", async () => {
    const calls = generationRequests(mock, openaiKey).length;
    const bad = await generate(worker, token, { prompt: "x", response_format: "link" });
    expectError(bad, { status: 400, param: "response_format" });
    const streamed = await generate(worker, token, { prompt: "x", response_format: "url", stream: true });
    expectError(streamed, { status: 400, param: "response_format" });
    assert.equal(generationRequests(mock, openaiKey).length, calls);
  });

  test("edits give links too", async () => {
    const f = new FormData();
    f.append("prompt", "edit as a link");
    f.append("response_format", "url");
    f.append("image", new Blob([IMAGE], { type: "image/png" }), "in.png");
    const res = await worker.request("/v1/images/edits", { method: "POST", token, body: f });
    expectStatus(res, 200, "edit with links");
    assert.equal(res.json.data[0].b64_json, undefined);
    assert.ok((await fetchLink(res.json.data[0].url)).bytes.equals(IMAGE));
  });

  test("an Idempotency-Key replay returns the same links", async () => {
    const body = { prompt: "idempotent links", response_format: "url" };
    const headers = { "idempotency-key": `links-${crypto.randomBytes(4).toString("hex")}` };
    const first = await generate(worker, token, body, { headers });
    const again = await generate(worker, token, body, { headers });
    expectStatus(again, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.json.data[0].url, first.json.data[0].url);
    assert.ok((await fetchLink(again.json.data[0].url)).bytes.equals(IMAGE));
  });
});

describe("faults and configuration", () => {
  test("an R2 write fault returns the images inline with a warning (never lost)", async () => {
    await worker.restart({ FILES_FAIL_WRITES: "true" });
    try {
      const res = await generate(worker, token, { prompt: "bucket down", n: 2, response_format: "url" });
      expectStatus(res, 200);
      assert.equal(res.json.data.length, 2);
      for (const item of res.json.data) {
        assert.equal(item.url, undefined);
        assert.ok(Buffer.from(item.b64_json, "base64").equals(IMAGE), "the paid image, inline");
      }
      const warnings = res.json.warnings.filter((w) => w.code === "link_unavailable");
      assert.equal(warnings.length, 2, JSON.stringify(res.json.warnings));
      assert.equal(warnings[0].provider, "openai");
      assert.match(warnings[0].message, /inline/);
    } finally {
      await worker.restart({ FILES_FAIL_WRITES: undefined });
    }
    const healthy = await linksFor({ response_format: "url" });
    assert.ok(healthy.json.data[0].url, "links again once the bucket works");
  });

  test("without URL_SIGNING_KEY, url is refused (500) before any provider is paid; links are refused too", async () => {
    const link = (await linksFor({ response_format: "url" })).json.data[0].url;
    await worker.restart({ URL_SIGNING_KEY: undefined });
    try {
      const calls = generationRequests(mock, openaiKey).length;
      const res = await generate(worker, token, { prompt: "no key", response_format: "url" });
      expectError(res, { status: 500, code: "links_unavailable" });
      assert.equal(generationRequests(mock, openaiKey).length, calls, "no provider call");
      const inline = await generate(worker, token, { prompt: "inline still works" });
      expectStatus(inline, 200);
      assert.equal((await fetchLink(link)).status, 500);
    } finally {
      await worker.restart({ URL_SIGNING_KEY });
    }
    assert.equal((await fetchLink(link)).status, 200, "the same link works again with the key back");
  });
});
