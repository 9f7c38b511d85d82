// JWT authentication: HS256 with the shared secret, RS256/ES256 from a JWKS served by a local
// node:http server; every refusal is 401 authentication_error.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  JWT_SECRET,
  b64url,
  claims,
  expectAuthError,
  expectStatus,
  fakeKey,
  nowSeconds,
  show,
  signJwt,
  startJwksServer,
  startMockServer,
  startWorker,
  storeKey,
  uid,
} from "./helpers.mjs";

const ISSUER = "https://issuer.example/auth/v1";
const JWKS_AUDIENCE = "api://imagegen";

let mock;
let jwks;
let worker; // JWT_SECRET + JWKS_URL + JWT_ISSUER (JWT_AUDIENCE left at its default)
let jwksOnly; // JWKS_URL only (no HMAC secret at all), JWT_AUDIENCE set

before(async () => {
  mock = await startMockServer();
  jwks = await startJwksServer();
  worker = await startWorker({ mockUrl: mock.url, bindings: { JWKS_URL: jwks.url, JWT_ISSUER: ISSUER } });
  jwksOnly = await startWorker({
    mockUrl: mock.url,
    bindings: { JWKS_URL: jwks.url, JWT_SECRET: undefined, JWT_AUDIENCE: JWKS_AUDIENCE },
  });
});

after(async () => {
  await worker?.close();
  await jwksOnly?.close();
  await jwks?.close();
  await mock?.close();
});

/** Valid claims for the main instance (issuer required there). */
const good = (extra = {}) => claims(uid("auth"), { iss: ISSUER, ...extra });
const hs = (payload, options = {}) => signJwt(payload, { alg: "HS256", ...options });
const rs = (payload, options = {}) => signJwt(payload, { alg: "RS256", privateKey: jwks.rsa.privateKey, kid: jwks.rsa.kid, ...options });
const es = (payload, options = {}) => signJwt(payload, { alg: "ES256", privateKey: jwks.ec.privateKey, kid: jwks.ec.kid, ...options });

/** GET /v1/keys with a raw Authorization header (or none). */
function probe(target, authorization) {
  return target.request("/v1/keys", { headers: authorization === undefined ? {} : { authorization } });
}

async function expectAccepted(target, token, what) {
  const res = await probe(target, `Bearer ${token}`);
  expectStatus(res, 200, what);
  assert.deepEqual(res.json, { data: [] }, `${what}: ${show(res)}`);
}

async function expectRefused(target, authorization, what) {
  const res = await probe(target, authorization);
  expectAuthError(res, what);
  return res;
}

describe("accepted tokens", () => {
  test("HS256 with the shared secret", async () => {
    await expectAccepted(worker, hs(good()), "HS256");
  });

  test("HS256 secret is used as raw UTF-8 bytes (not base64-decoded)", async () => {
    // A secret that is also valid base64: signing with its decoded bytes must fail.
    const decoded = Buffer.from(JWT_SECRET, "base64");
    await expectRefused(worker, `Bearer ${hs(good(), { secret: decoded })}`, "HS256 with base64-decoded secret");
    await expectAccepted(worker, hs(good(), { secret: Buffer.from(JWT_SECRET, "utf8") }), "HS256 raw bytes");
  });

  test("RS256 from the JWKS", async () => {
    await expectAccepted(worker, rs(good()), "RS256");
  });

  test("ES256 from the JWKS (raw r||s signature)", async () => {
    await expectAccepted(worker, es(good()), "ES256");
  });

  test("audience array containing the audience", async () => {
    await expectAccepted(worker, hs(good({ aud: ["other-service", "authenticated"] })), "aud array");
  });

  test("expired 20 s ago: inside the 60 s leeway", async () => {
    await expectAccepted(worker, hs(good({ exp: nowSeconds() - 20 })), "exp within leeway");
  });

  test("nbf 20 s in the future: inside the 60 s leeway", async () => {
    await expectAccepted(worker, hs(good({ nbf: nowSeconds() + 20 })), "nbf within leeway");
  });

  test("nbf in the past is fine", async () => {
    await expectAccepted(worker, hs(good({ nbf: nowSeconds() - 300 })), "nbf past");
  });

  test("the user is the token's sub, whatever the algorithm", async () => {
    const sub = uid("auth-same");
    const key = fakeKey("auth", "openai");
    await storeKey(worker, hs(good({ sub })), "openai", key);
    for (const token of [rs(good({ sub })), es(good({ sub }))]) {
      const res = await probe(worker, `Bearer ${token}`);
      expectStatus(res, 200);
      assert.deepEqual(res.json.data.map((e) => e.provider), ["openai"], show(res));
    }
  });
});

describe("refused tokens: 401 authentication_error", () => {
  test("no Authorization header", async () => {
    await expectRefused(worker, undefined, "missing header");
  });

  test("not a Bearer scheme", async () => {
    await expectRefused(worker, `Basic ${Buffer.from("user:pass").toString("base64")}`, "Basic");
    await expectRefused(worker, hs(good()), "token without scheme");
    await expectRefused(worker, `Token ${hs(good())}`, "Token scheme");
  });

  test("Bearer with nothing after it", async () => {
    await expectRefused(worker, "Bearer ", "empty bearer");
    await expectRefused(worker, "Bearer", "bare Bearer");
  });

  test("malformed: two parts, four parts", async () => {
    const [h, p, s] = hs(good()).split(".");
    await expectRefused(worker, `Bearer ${h}.${p}`, "2 parts");
    await expectRefused(worker, `Bearer ${h}.${p}.${s}.${s}`, "4 parts");
  });

  test("malformed: bad base64", async () => {
    const [h, p, s] = hs(good()).split(".");
    await expectRefused(worker, `Bearer !!!.${p}.${s}`, "bad base64 header");
    await expectRefused(worker, `Bearer ${h}.${p}.***`, "bad base64 signature");
    const input = `${h}.@@${p}`;
    const sig = crypto.createHmac("sha256", JWT_SECRET).update(input).digest("base64url");
    await expectRefused(worker, `Bearer ${input}.${sig}`, "bad base64 payload with a valid MAC");
  });

  test("malformed: header or payload not JSON (correctly signed)", async () => {
    const sign = (input) => `${input}.${crypto.createHmac("sha256", JWT_SECRET).update(input).digest("base64url")}`;
    const header = b64url({ alg: "HS256", typ: "JWT" });
    await expectRefused(worker, `Bearer ${sign(`${header}.${b64url("not json")}`)}`, "payload not JSON");
    await expectRefused(worker, `Bearer ${sign(`${b64url("{alg:HS256")}.${b64url(good())}`)}`, "header not JSON");
    await expectRefused(worker, `Bearer ${sign(`${header}.${b64url("[1,2]")}`)}`, "payload not an object");
  });

  test("alg none (and variants)", async () => {
    for (const alg of ["none", "None", "NONE"]) {
      const token = signJwt(good(), { alg: "none", header: { alg } });
      await expectRefused(worker, `Bearer ${token}`, `alg ${alg}`);
      await expectRefused(worker, `Bearer ${token.slice(0, token.lastIndexOf("."))}`, `alg ${alg} without trailing dot`);
    }
  });

  test("HS512 with the right secret (only HS256 is accepted)", async () => {
    await expectRefused(worker, `Bearer ${signJwt(good(), { alg: "HS512" })}`, "HS512");
  });

  test("HS256 header but HS512 signature", async () => {
    const input = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(good())}`;
    const sig = crypto.createHmac("sha512", JWT_SECRET).update(input).digest("base64url");
    await expectRefused(worker, `Bearer ${input}.${sig}`, "HS512 signature under HS256");
  });

  test("bad signature", async () => {
    await expectRefused(worker, `Bearer ${hs(good(), { secret: "another-secret-entirely-0123456789" })}`, "wrong secret");
    const token = hs(good());
    const flipped = token.slice(0, -2) + (token.at(-2) === "A" ? "B" : "A") + token.at(-1);
    await expectRefused(worker, `Bearer ${flipped}`, "flipped signature");
  });

  test("payload changed after signing", async () => {
    const [h, , s] = hs(good({ sub: "alice" })).split(".");
    await expectRefused(worker, `Bearer ${h}.${b64url(good({ sub: "mallory" }))}.${s}`, "tampered payload");
  });

  test("expired beyond the leeway", async () => {
    await expectRefused(worker, `Bearer ${hs(good({ exp: nowSeconds() - 120 }))}`, "expired 120 s");
    await expectRefused(worker, `Bearer ${hs(good({ iat: nowSeconds() - 86400, exp: nowSeconds() - 3600 }))}`, "expired 1 h");
  });

  test("nbf in the future beyond the leeway", async () => {
    await expectRefused(worker, `Bearer ${hs(good({ nbf: nowSeconds() + 300 }))}`, "nbf +300 s");
  });

  test("wrong or missing audience", async () => {
    await expectRefused(worker, `Bearer ${hs(good({ aud: "anon" }))}`, "aud anon");
    await expectRefused(worker, `Bearer ${hs(good({ aud: ["a", "b"] }))}`, "aud array without audience");
    await expectRefused(worker, `Bearer ${hs(good({ aud: [] }))}`, "aud empty array");
    const noAud = good();
    delete noAud.aud;
    await expectRefused(worker, `Bearer ${hs(noAud)}`, "no aud");
  });

  test("wrong or missing issuer (JWT_ISSUER set)", async () => {
    await expectRefused(worker, `Bearer ${hs(good({ iss: "https://evil.example/auth/v1" }))}`, "wrong iss");
    await expectRefused(worker, `Bearer ${hs(good({ iss: `${ISSUER}/` }))}`, "iss with trailing slash");
    const noIss = good();
    delete noIss.iss;
    await expectRefused(worker, `Bearer ${hs(noIss)}`, "no iss");
  });

  test("missing or empty sub", async () => {
    const noSub = good();
    delete noSub.sub;
    await expectRefused(worker, `Bearer ${hs(noSub)}`, "no sub");
    await expectRefused(worker, `Bearer ${hs(good({ sub: "" }))}`, "empty sub");
    await expectRefused(worker, `Bearer ${hs(good({ sub: 42 }))}`, "numeric sub");
  });

  test("missing or non-numeric exp", async () => {
    const noExp = good();
    delete noExp.exp;
    await expectRefused(worker, `Bearer ${hs(noExp)}`, "no exp");
    await expectRefused(worker, `Bearer ${hs(good({ exp: String(nowSeconds() + 3600) }))}`, "exp as string");
  });

  test("JWKS: unknown kid", async () => {
    await expectRefused(worker, `Bearer ${rs(good(), { kid: "rsa-unknown" })}`, "RS256 unknown kid");
    await expectRefused(worker, `Bearer ${es(good(), { kid: "ec-unknown" })}`, "ES256 unknown kid");
  });

  test("JWKS: no kid", async () => {
    const token = signJwt(good(), { alg: "RS256", privateKey: jwks.rsa.privateKey });
    await expectRefused(worker, `Bearer ${token}`, "RS256 without kid");
  });

  test("JWKS: signed by a key that is not in the set, under a known kid", async () => {
    const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    await expectRefused(worker, `Bearer ${rs(good(), { privateKey: other.privateKey })}`, "RS256 foreign key");
    const otherEc = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    await expectRefused(worker, `Bearer ${es(good(), { privateKey: otherEc.privateKey })}`, "ES256 foreign key");
  });

  test("JWKS: algorithm and key type mismatch", async () => {
    // RS256 header naming the EC key, ES256 header naming the RSA key.
    await expectRefused(worker, `Bearer ${rs(good(), { kid: jwks.ec.kid })}`, "RS256 with the EC kid");
    await expectRefused(worker, `Bearer ${es(good(), { kid: jwks.rsa.kid })}`, "ES256 with the RSA kid");
  });

  test("ES256 with a DER signature instead of raw r||s", async () => {
    await expectRefused(worker, `Bearer ${es(good(), { signatureDer: true })}`, "ES256 DER");
  });

  test("RS384/RS512/PS256 are not on the pinned list", async () => {
    for (const [alg, hash] of [["RS384", "sha384"], ["RS512", "sha512"]]) {
      const input = `${b64url({ alg, typ: "JWT", kid: jwks.rsa.kid })}.${b64url(good())}`;
      const sig = crypto.sign(hash, Buffer.from(input), jwks.rsa.privateKey).toString("base64url");
      await expectRefused(worker, `Bearer ${input}.${sig}`, alg);
    }
    const input = `${b64url({ alg: "PS256", typ: "JWT", kid: jwks.rsa.kid })}.${b64url(good())}`;
    const sig = crypto
      .sign("sha256", Buffer.from(input), { key: jwks.rsa.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING })
      .toString("base64url");
    await expectRefused(worker, `Bearer ${input}.${sig}`, "PS256");
  });

  test("a refused request is refused on every authenticated route", async () => {
    const bad = `Bearer ${hs(good(), { secret: "wrong-secret-wrong-secret-wrong" })}`;
    const routes = [
      ["GET", "/v1/keys"],
      ["PUT", "/v1/keys/openai", { apiKey: fakeKey("auth", "openai") }],
      ["DELETE", "/v1/keys/openai"],
      ["GET", "/v1/config"],
      ["PUT", "/v1/config", { providers: [{ provider: "mock" }] }],
      ["POST", "/v1/images/generations", { prompt: "x", model: "mock" }],
    ];
    const before = mock.requests().length;
    for (const [method, path, json] of routes) {
      const res = await worker.request(path, { method, json, headers: { authorization: bad } });
      expectAuthError(res, `${method} ${path}`);
    }
    assert.equal(mock.requests().length, before, "no provider request for unauthenticated calls");
  });
});

describe("JWKS-only deployment (no JWT_SECRET, custom JWT_AUDIENCE)", () => {
  const jc = (extra = {}) => claims(uid("jwks"), { aud: JWKS_AUDIENCE, ...extra });

  test("RS256 and ES256 are accepted", async () => {
    await expectAccepted(jwksOnly, rs(jc()), "RS256");
    await expectAccepted(jwksOnly, es(jc()), "ES256");
  });

  test("HS256 is refused, whatever it is signed with", async () => {
    const c = jc();
    await expectRefused(jwksOnly, `Bearer ${hs(c)}`, "HS256 with the test secret");
    await expectRefused(jwksOnly, `Bearer ${hs(c, { secret: "" })}`, "HS256 with an empty secret");
    // Algorithm confusion: HS256 keyed with the public key.
    const pem = jwks.rsa.publicKey.export({ type: "spki", format: "pem" });
    await expectRefused(jwksOnly, `Bearer ${hs(c, { secret: pem, kid: jwks.rsa.kid })}`, "HS256 keyed with the RSA PEM");
    const n = jwks.keys[0].n;
    await expectRefused(jwksOnly, `Bearer ${hs(c, { secret: n, kid: jwks.rsa.kid })}`, "HS256 keyed with the JWK n");
  });

  test("JWT_AUDIENCE replaces the default audience", async () => {
    await expectRefused(jwksOnly, `Bearer ${rs(jc({ aud: "authenticated" }))}`, "default aud no longer accepted");
    await expectAccepted(jwksOnly, rs(jc({ aud: ["authenticated", JWKS_AUDIENCE] })), "aud array with the custom audience");
  });

  test("no issuer configured: any iss is fine, audience still checked", async () => {
    await expectAccepted(jwksOnly, rs(jc({ iss: "https://whatever.example" })), "any iss");
    await expectRefused(jwksOnly, `Bearer ${rs(jc({ aud: "anon" }))}`, "wrong aud");
  });
});
