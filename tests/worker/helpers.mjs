// Shared helpers for the Worker end-to-end tests (tests/worker/*.test.mjs).
//
// The Worker under test is the worker-build output in worker/build/ (build it first with
// `bash scripts/build-worker.sh`), run in workerd through Miniflare 4, with every provider
// pointed at the mock provider server (tests/mock-server/server.mjs).
//
// Every HTTP response the tests receive from the Worker goes through `scanResponse`, which
// fails the test if a stored provider API key (or any recognisable fake key) shows up in a
// body or header.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare } from "miniflare";
import { startMockServer, PNG_1X1_BASE64 } from "../mock-server/server.mjs";

export { startMockServer, PNG_1X1_BASE64 };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BUILD_DIR = path.join(ROOT, "worker/build");

export const JWT_SECRET = "e2e-test-jwt-secret-0123456789-abcdefghij";
/** The links' HMAC secret (URL_SIGNING_KEY) of the test Worker. */
export const URL_SIGNING_KEY = "e2e-test-url-signing-key-0123456789-abcdefghij";
export const ALLOWED_ORIGINS = ["http://localhost:3000", "https://app.example"];
export const KEK = {
  k1: crypto.createHash("sha256").update("imagegen e2e master key k1").digest("base64"),
  k2: crypto.createHash("sha256").update("imagegen e2e master key k2").digest("base64"),
};
export const ERROR_TYPES = [
  "invalid_request_error",
  "authentication_error",
  "permission_error",
  "not_found_error",
  "rate_limit_error",
  "server_error",
];

// ---------------------------------------------------------------------------------------------
// Secret scanning
// ---------------------------------------------------------------------------------------------

/** Every fake key contains this marker; it must never appear in anything the Worker returns. */
export const SECRET_MARKER = "sk-SECRET-";
const secrets = new Set();

/** A recognisable fake provider key (registered with the scanner). Ends in 16 hex chars. */
export function fakeKey(tag, provider = "openai") {
  const key = `${SECRET_MARKER}${tag}-${provider}-${crypto.randomBytes(8).toString("hex")}`;
  secrets.add(key);
  return key;
}

/** Registers an extra string that must never appear in Worker responses. */
export function registerSecret(value) {
  secrets.add(value);
}

/** What a leaked key may look like: whole, in halves, without its prefix, base64/base64url. */
function needles() {
  const out = [SECRET_MARKER];
  for (const key of secrets) {
    const half = Math.floor(key.length / 2);
    out.push(key, key.slice(0, -4), key.slice(0, half), key.slice(half), key.slice(SECRET_MARKER.length));
    out.push(Buffer.from(key).toString("base64").slice(0, -4), Buffer.from(key).toString("base64url").slice(0, -4));
  }
  return out.map((n) => n.toLowerCase());
}

/**
 * Asserts that no registered secret appears in `text` (a response body, header, ...) in any
 * letter case, whole or in halves, without its prefix, or base64-encoded.
 */
export function assertNoSecrets(text, where) {
  const haystack = String(text).toLowerCase();
  for (const needle of needles()) {
    assert.ok(!haystack.includes(needle), `secret ${JSON.stringify(needle.slice(0, 16))}… leaked in ${where}`);
  }
}

export const scanStats = { responses: 0 };

/** Scans the status line, every header and the body text of one Worker response. */
export function scanResponse(response, text, where) {
  scanStats.responses++;
  for (const [name, value] of response.headers) assertNoSecrets(`${name}: ${value}`, `header of ${where}`);
  assertNoSecrets(response.statusText ?? "", `status text of ${where}`);
  assertNoSecrets(text, `body of ${where}`);
}

/**
 * A fetch for clients (the OpenAI SDK) that scans every response it returns; the body is
 * re-wrapped so the caller can still read it.
 */
export async function scanningFetch(input, init) {
  const response = await fetch(input, init);
  const buffer = Buffer.from(await response.arrayBuffer());
  const where = `${init?.method ?? "GET"} ${typeof input === "string" ? input : input.url ?? input}`;
  scanResponse(response, buffer.toString("utf8"), where);
  const status = response.status;
  const body = status === 204 || status === 304 ? null : buffer;
  return new Response(body, { status, statusText: response.statusText, headers: response.headers });
}

// ---------------------------------------------------------------------------------------------
// JWT
// ---------------------------------------------------------------------------------------------

export function b64url(input) {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(typeof input === "string" ? input : JSON.stringify(input));
  return buf.toString("base64url");
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Signs a JWT. alg: HS256 | HS512 (secret), RS256 | ES256 (privateKey), none.
 * `header` entries override/extend the default header ({alg, typ}); `kid` is added if given.
 * `signatureDer: true` signs ES256 in DER instead of the JOSE raw r||s form (a negative case).
 */
export function signJwt(payload, { alg = "HS256", secret = JWT_SECRET, privateKey, kid, header = {}, signatureDer = false } = {}) {
  const fullHeader = { alg, typ: "JWT", ...(kid !== undefined ? { kid } : {}), ...header };
  const input = `${b64url(fullHeader)}.${b64url(payload)}`;
  let signature;
  switch (alg) {
    case "HS256":
      signature = crypto.createHmac("sha256", secret).update(input).digest();
      break;
    case "HS512":
      signature = crypto.createHmac("sha512", secret).update(input).digest();
      break;
    case "RS256":
      signature = crypto.sign("sha256", Buffer.from(input), privateKey);
      break;
    case "ES256":
      signature = crypto.sign("sha256", Buffer.from(input), {
        key: privateKey,
        dsaEncoding: signatureDer ? "der" : "ieee-p1363",
      });
      break;
    case "none":
      signature = Buffer.alloc(0);
      break;
    default:
      throw new Error(`signJwt: unsupported alg ${alg}`);
  }
  return `${input}.${b64url(signature)}`;
}

/** Standard claims of a valid Supabase-style token for `sub`, overridable by `extra`. */
export function claims(sub, extra = {}) {
  const now = nowSeconds();
  return { sub, aud: "authenticated", role: "authenticated", iat: now, exp: now + 3600, ...extra };
}

/** A valid HS256 dev token for user `sub`. */
export function devToken(sub, extra = {}, options = {}) {
  return signJwt(claims(sub, extra), options);
}

/** A unique user id for one test. */
export function uid(prefix = "user") {
  return `${prefix}-${crypto.randomBytes(6).toString("hex")}`;
}

/** The SHA-256 (lowercase hex) of a user id: what KV names are built from. */
export const userHash = (sub) => crypto.createHash("sha256").update(sub, "utf8").digest("hex");

export const kvKeyName = (sub, provider) => `key:#${userHash(sub)}:${provider}`;
export const kvConfigName = (sub) => `config:#${userHash(sub)}`;

/** The older KV form of a user id: bytes outside A-Za-z0-9-_. as %XX (uppercase hex). */
export function encodeUserId(sub) {
  let out = "";
  for (const byte of Buffer.from(sub, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** KV names used before they were hashed (still read as a fallback). */
export const legacyKvKeyName = (sub, provider) => `key:${encodeUserId(sub)}:${provider}`;
export const legacyKvConfigName = (sub) => `config:${encodeUserId(sub)}`;

// ---------------------------------------------------------------------------------------------
// JWKS server (RS256 + ES256 keys, served by node:http)
// ---------------------------------------------------------------------------------------------

export async function startJwksServer() {
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  // Keys a token must not be verified with: one for encryption, one for another algorithm.
  const rsaEnc = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const rsaOtherAlg = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = (publicKey, kid, alg, use = "sig") => ({ ...publicKey.export({ format: "jwk" }), kid, alg, use });
  const keys = [
    jwk(rsa.publicKey, "rsa-1", "RS256"),
    jwk(ec.publicKey, "ec-1", "ES256"),
    jwk(rsaEnc.publicKey, "rsa-enc", "RS256", "enc"),
    jwk(rsaOtherAlg.publicKey, "rsa-384", "RS384"),
  ];
  let hits = 0;
  let failing = false;
  const server = http.createServer((req, res) => {
    hits++;
    if (failing) {
      res.writeHead(500, { "content-type": "application/json" }).end("{}");
      return;
    }
    if (req.url.split("?")[0] !== "/jwks.json") {
      res.writeHead(404, { "content-type": "application/json" }).end("{}");
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
    res.end(JSON.stringify({ keys }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}/jwks.json`;
  return {
    url,
    keys,
    rsa: { kid: "rsa-1", privateKey: rsa.privateKey, publicKey: rsa.publicKey },
    ec: { kid: "ec-1", privateKey: ec.privateKey, publicKey: ec.publicKey },
    rsaEnc: { kid: "rsa-enc", privateKey: rsaEnc.privateKey },
    rsaOtherAlg: { kid: "rsa-384", privateKey: rsaOtherAlg.privateKey },
    hits: () => hits,
    /** While true, every JWKS request gets a 500. */
    setFailing: (value) => {
      failing = value;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A node:http server that records every request it gets (a trap for misdirected keys). */
export async function startTrapServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    res.writeHead(500, { "content-type": "application/json" }).end('{"error":"trap"}');
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Mock provider server helpers
// ---------------------------------------------------------------------------------------------

/** Sets the script of one key on the mock (through its HTTP control route, as documented). */
export async function scriptKey(mock, key, steps, extra = {}) {
  const response = await fetch(`${mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key, steps, ...extra }),
  });
  assert.equal(response.status, 200, `mock script rejected: ${await response.text()}`);
}

/** The mock's logged generation requests (not key validations) made with `key`. */
export const generationRequests = (mock, key) => mock.requests(key).filter((r) => r.route === "generate");
/** The mock's logged key-validation requests made with `key`. */
export const validationRequests = (mock, key) => mock.requests(key).filter((r) => r.route === "validate_key");

// ---------------------------------------------------------------------------------------------
// Miniflare
// ---------------------------------------------------------------------------------------------

/**
 * The Worker's modules: worker/build/index.js (entry and glue) and the wasm it imports,
 * listed for Miniflare as a deployment lists them (so Miniflare need not parse the JS to
 * find its imports).
 */
export function workerModules() {
  const entry = path.join(BUILD_DIR, "index.js");
  const wasm = path.join(BUILD_DIR, "index_bg.wasm");
  if (!fs.existsSync(entry) || !fs.existsSync(wasm)) {
    throw new Error(`Worker build not found in ${BUILD_DIR}: run \`bash scripts/build-worker.sh\` first`);
  }
  return [
    { type: "ESModule", path: entry, contents: fs.readFileSync(entry, "utf8") },
    { type: "CompiledWasm", path: wasm, contents: fs.readFileSync(wasm) },
  ];
}

/** The default bindings (vars + secrets) for a Worker whose providers all point at `mockUrl`. */
export function defaultBindings(mockUrl) {
  return {
    ALLOWED_ORIGINS: ALLOWED_ORIGINS.join(","),
    RATE_LIMIT_PER_MINUTE: "100000",
    // The retry budget would make a test's retries depend on its earlier requests
    // with the same key; reliability.test.mjs tests the defaults.
    RETRY_BUDGET_MIN_RETRIES: "100000",
    // Development-only switches, as the local .dev.vars sets them.
    ENABLE_MOCK_PROVIDER: "true",
    EXPOSE_MEMORY_STATS: "true",
    JWT_SECRET,
    KEY_ENCRYPTION_KEYS: JSON.stringify({ k1: KEK.k1 }),
    KEY_ENCRYPTION_ACTIVE_KID: "k1",
    URL_SIGNING_KEY,
    OPENAI_BASE_URL: mockUrl,
    GEMINI_BASE_URL: mockUrl,
    STABILITY_BASE_URL: mockUrl,
  };
}

/**
 * Miniflare options for the built Worker. Its console output goes to `logSink` (an array),
 * or is discarded without one (the benchmarks).
 */
export function miniflareOptions(bindings, logSink, extra = {}) {
  const clean = Object.fromEntries(Object.entries(bindings).filter(([, v]) => v !== undefined));
  return {
    name: "imagegen-worker",
    modules: workerModules(),
    modulesRoot: BUILD_DIR,
    compatibilityDate: "2026-04-01",
    cf: false,
    kvNamespaces: ["KEYS"],
    durableObjects: { USER_STATE: { className: "UserState", useSQLite: true } },
    // Results as links: the bucket, in memory.
    r2Buckets: ["IMAGES"],
    bindings: clean,
    host: "127.0.0.1",
    port: 0,
    // The Worker's console output is kept (scanned for secrets by the tests) and shown only
    // with WORKER_TEST_LOG=1.
    log: process.env.WORKER_TEST_LOG ? new Log(LogLevel.DEBUG) : undefined,
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.on("data", (chunk) => {
          logSink?.push(String(chunk));
          if (process.env.WORKER_TEST_LOG) process.stderr.write(chunk);
        });
      }
    },
    ...extra,
  };
}

/**
 * Starts the built Worker in Miniflare. `bindings` override the defaults (a value of
 * `undefined` removes a default). Returns a handle with `request()` (scanned fetch),
 * `kv()` (the KEYS namespace), `restart(bindings)` and `close()`. `miniflare` replaces
 * Miniflare options (e.g. `{durableObjects: {}}`: a deployment without the binding).
 */
export async function startWorker({ mockUrl, bindings = {}, miniflare = {} } = {}) {
  let current = { ...defaultBindings(mockUrl), ...bindings };
  const logs = [];
  const mf = new Miniflare(miniflareOptions(current, logs, miniflare));
  let base = String(await mf.ready).replace(/\/$/, "");
  const worker = {
    mf,
    get url() {
      return base;
    },
    get bindings() {
      return { ...current };
    },
    /** The KEYS namespace (re-fetched each time: stubs die on restart). */
    kv: () => mf.getKVNamespace("KEYS"),
    /** The IMAGES bucket (re-fetched each time: stubs die on restart). */
    r2: () => mf.getR2Bucket("IMAGES"),
    /** Restarts workerd with new bindings; KV contents survive. */
    async restart(overrides) {
      current = { ...current, ...overrides };
      await mf.setOptions(miniflareOptions(current, logs, miniflare));
      base = String(await mf.ready).replace(/\/$/, "");
    },
    request: (pathname, options) => request(base, pathname, options),
    /** Everything the Worker wrote to stdout/stderr so far. */
    logs: () => logs.join(""),
    close: () => mf.dispose(),
  };
  return worker;
}

/**
 * One request to the Worker over real HTTP. Options: method, token (Bearer), json (body,
 * sets content-type), body (raw), headers, origin. Returns {status, headers, text, json}.
 * The response is scanned for secrets.
 */
export async function request(base, pathname, { method, token, json, body, headers = {}, origin, duplex } = {}) {
  const h = { ...headers };
  if (token !== undefined) h.authorization = `Bearer ${token}`;
  if (origin !== undefined) h.origin = origin;
  let payload = body;
  if (json !== undefined) {
    payload = JSON.stringify(json);
    if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) h["content-type"] = "application/json";
  }
  const m = method ?? (payload !== undefined ? "POST" : "GET");
  const init = { method: m, headers: h, body: payload };
  if (duplex) init.duplex = duplex;
  const response = await fetch(base + pathname, init);
  const text = await response.text();
  scanResponse(response, text, `${m} ${pathname}`);
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, json: parsed };
}

/** Formats a response for assertion messages. */
export function show(res) {
  const headers = Object.fromEntries(res.headers);
  const body = res.text.length > 1500 ? `${res.text.slice(0, 1500)}…(${res.text.length} chars)` : res.text;
  return `HTTP ${res.status} ${JSON.stringify(headers)} ${body}`;
}

/** Asserts the status, with the whole response in the message. */
export function expectStatus(res, status, what = "") {
  assert.equal(res.status, status, `${what} expected HTTP ${status}, got ${show(res)}`);
}

/**
 * Asserts the extended OpenAI error envelope. `expected` may hold status, type, code, param
 * (exact, `null` included) and provider/retryable.
 */
export function expectError(res, expected = {}, what = "") {
  if (expected.status !== undefined) expectStatus(res, expected.status, what);
  assert.ok(res.status >= 400, `${what} expected an error status, got ${show(res)}`);
  assert.ok(res.headers.get("x-request-id"), `${what} error response without x-request-id: ${show(res)}`);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/i, `${what} error content type: ${show(res)}`);
  const error = res.json?.error;
  assert.ok(error && typeof error === "object", `${what} no error envelope: ${show(res)}`);
  assert.equal(typeof error.message, "string", `${what} error.message: ${show(res)}`);
  assert.ok(error.message.length > 0, `${what} empty error.message: ${show(res)}`);
  assert.ok(ERROR_TYPES.includes(error.type), `${what} error.type ${JSON.stringify(error.type)}: ${show(res)}`);
  assert.equal(typeof error.code, "string", `${what} error.code must be a string: ${show(res)}`);
  assert.ok(error.code.length > 0, `${what} empty error.code: ${show(res)}`);
  assert.ok("param" in error, `${what} error.param missing: ${show(res)}`);
  assert.ok(error.param === null || typeof error.param === "string", `${what} error.param type: ${show(res)}`);
  for (const field of ["type", "code", "param", "provider", "retryable"]) {
    if (field in expected) {
      assert.deepEqual(error[field], expected[field], `${what} error.${field}: ${show(res)}`);
    }
  }
  return error;
}

/** Asserts a 401 authentication_error. */
export function expectAuthError(res, what = "") {
  return expectError(res, { status: 401, type: "authentication_error" }, what);
}

/** Asserts `value` contains no camelCase keys (snake_case throughout), recursively. */
export function assertSnakeCase(value, where = "response") {
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertSnakeCase(v, `${where}[${i}]`));
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      assert.ok(!/[A-Z]/.test(k), `camelCase key ${JSON.stringify(k)} in ${where}`);
      assertSnakeCase(v, `${where}.${k}`);
    }
  }
}

/** Asserts an RFC 3339 timestamp. */
export function assertRfc3339(value, what = "timestamp") {
  assert.equal(typeof value, "string", `${what} must be a string`);
  assert.match(
    value,
    /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
    `${what} ${JSON.stringify(value)} is not RFC 3339`,
  );
  assert.ok(!Number.isNaN(Date.parse(value)), `${what} ${JSON.stringify(value)} does not parse`);
}

// ---------------------------------------------------------------------------------------------
// API shortcuts
// ---------------------------------------------------------------------------------------------

export function putKey(worker, token, provider, apiKey, { validate = true } = {}) {
  const query = validate ? "" : "?validate=false";
  return worker.request(`/v1/keys/${provider}${query}`, { method: "PUT", token, json: { apiKey } });
}

export function putConfig(worker, token, config) {
  return worker.request("/v1/config", { method: "PUT", token, json: config });
}

export function generate(worker, token, body, options = {}) {
  return worker.request("/v1/images/generations", { method: "POST", token, json: body, ...options });
}

/** Stores a key and asserts success. */
export async function storeKey(worker, token, provider, apiKey, options) {
  const res = await putKey(worker, token, provider, apiKey, options);
  expectStatus(res, 200, `PUT /v1/keys/${provider}`);
  return res.json;
}

/** Stores a config and asserts success. */
export async function storeConfig(worker, token, providers, extra = {}) {
  const res = await putConfig(worker, token, { providers, ...extra });
  expectStatus(res, 200, "PUT /v1/config");
  return res.json;
}
