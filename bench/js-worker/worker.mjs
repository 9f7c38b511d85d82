// The baseline for the Worker benchmark: a plain-JavaScript Worker doing the
// same work as the Rust Worker's POST /v1/images/generations on its happy
// path — HS256 JWT check (WebCrypto), KV read of the user's encrypted key
// (named by the SHA-256 of the user id), AES-GCM decrypt (WebCrypto, same
// record format and AAD), a fetch to the provider, and an OpenAI-shaped JSON
// response. No retries, fallback or
// validation beyond that: it is the floor the Rust Worker is measured against.

const enc = new TextEncoder();

function b64urlDecode(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

const b64Decode = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

function aad(kid, user, provider) {
  const parts = [enc.encode("imagegen-key")];
  for (const field of ["1", kid, user, provider]) {
    const bytes = enc.encode(field);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, bytes.length);
    parts.push(len, bytes);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const error = (status, message) =>
  Response.json({ error: { message, type: status === 401 ? "authentication_error" : "server_error", code: "error", param: null } }, { status });

async function authenticate(request, env) {
  const header = request.headers.get("authorization") ?? "";
  const token = header.startsWith("Bearer ") ? header.slice(7) : "";
  const [h, p, s] = token.split(".");
  if (!s) return null;
  const key = await crypto.subtle.importKey("raw", enc.encode(env.JWT_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const ok = await crypto.subtle.verify("HMAC", key, b64urlDecode(s), enc.encode(`${h}.${p}`));
  if (!ok) return null;
  const claims = JSON.parse(new TextDecoder().decode(b64urlDecode(p)));
  if (JSON.parse(new TextDecoder().decode(b64urlDecode(h))).alg !== "HS256") return null;
  if (typeof claims.exp !== "number" || claims.exp < Date.now() / 1000 - 60) return null;
  if (claims.aud !== "authenticated" || !claims.sub) return null;
  return claims.sub;
}

export default {
  async fetch(request, env) {
    if (request.method !== "POST") return error(405, "method not allowed");
    const user = await authenticate(request, env);
    if (!user) return error(401, "invalid token");
    const body = await request.json();
    const userHash = [...new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(user)))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    const record = await env.KEYS.get(`key:#${userHash}:openai`, "json");
    if (!record) return error(409, "no key");
    const master = JSON.parse(env.KEY_ENCRYPTION_KEYS)[record.kid];
    const aes = await crypto.subtle.importKey("raw", b64Decode(master), { name: "AES-GCM" }, false, ["decrypt"]);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: b64Decode(record.nonce), additionalData: aad(record.kid, user, "openai") },
      aes,
      b64Decode(record.ct),
    );
    const apiKey = new TextDecoder().decode(plain);
    const started = Date.now();
    const resp = await fetch(`${env.OPENAI_BASE_URL}/v1/images/generations`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-image-2", prompt: body.prompt, n: body.n ?? 1, quality: "medium" }),
    });
    const result = await resp.json();
    return Response.json({
      created: Math.floor(Date.now() / 1000),
      data: result.data.map((d) => ({ b64_json: d.b64_json, mime_type: "image/png", provider: "openai", model: "gpt-image-2" })),
      attempts: [{ provider: "openai", model: "gpt-image-2", part: 0, attempt: 1, duration_ms: Date.now() - started, outcome: "ok", status: resp.status, images: result.data.length }],
      warnings: [],
      errors: [],
    });
  },
};
