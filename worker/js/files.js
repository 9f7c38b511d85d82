// Results as links (worker/src/files/): objects in the R2 bucket bound as
// `IMAGES`, written and read here, where the bytes live. Wasm hands over an
// image as the JS string the engine got from the provider (base64), or a
// string / bytes / stream it already holds as a JS value; the decoding and
// the bucket calls happen on this side, so no image enters wasm memory.
// The link's HMAC-SHA256 is WebCrypto's (its `verify` compares in constant
// time).

// Base64 to bytes: the runtime's own decoder when it has one, else atob.
function fromBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// The value R2 gets for a body of `kind`: "base64" (a base64 string,
// decoded here), "text" (stored as UTF-8), "bytes" (Uint8Array,
// ArrayBuffer, Blob or ReadableStream, as it is).
function bodyOf(kind, data) {
  if (kind === "base64") return fromBase64(data);
  return data;
}

// A new object id: 16 random bytes as lowercase hex.
function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Stores one object under a new random id: {id, etag, size}. `expires` (unix seconds) is
// kept with it so reads can refuse it once past. `failWrites` is the
// development-only fault switch (FILES_FAIL_WRITES): the write throws as a
// failing bucket would. A thrown error (bad base64, bucket failure) rejects.
export async function putObject(bucket, kind, data, contentType, expires, failWrites) {
  if (failWrites) throw new Error("injected R2 write fault");
  const id = newId();
  const object = await bucket.put(id, bodyOf(kind, data), {
    httpMetadata: { contentType },
    customMetadata: { expires: String(expires) },
  });
  if (!object) throw new Error("R2 refused the write");
  return { id, etag: object.httpEtag, size: object.size };
}

// Reads one object: null when absent, else {body (a ReadableStream, or null
// for `head`), contentType, expires (unix seconds, 0 when unknown), etag
// (quoted, as for the ETag header), size}.
export async function getObject(bucket, id, head) {
  const object = head ? await bucket.head(id) : await bucket.get(id);
  if (!object) return null;
  return {
    body: head ? null : object.body,
    contentType: object.httpMetadata?.contentType ?? "application/octet-stream",
    expires: Number(object.customMetadata?.expires ?? 0) || 0,
    etag: object.httpEtag,
    size: object.size,
  };
}

// Cancels an object's body that will not be sent (a 304, a refused read).
export function discardBody(object) {
  object?.body?.cancel?.().catch(() => {});
}

// Reads an object's body whole as a JS string (UTF-8), for records kept in
// the bucket as text; null when absent.
export async function getText(bucket, id) {
  const object = await bucket.get(id);
  return object ? await object.text() : null;
}

// Deletes one object (no error when absent).
export async function deleteObject(bucket, id) {
  await bucket.delete(id);
}

// The response for a read: its body stream (none for HEAD and 304) and the
// given headers.
export function objectResponse(status, body, headers) {
  return new Response(body, { status, headers });
}

const encoder = new TextEncoder();

function hmacKey(secret, usage) {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

// HMAC-SHA256 of `message` under `secret` (both strings): 32 bytes.
export async function hmacSign(secret, message) {
  const key = await hmacKey(secret, "sign");
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

// Whether `signature` (bytes) is the HMAC-SHA256 of `message` under
// `secret`, compared in constant time by WebCrypto.
export async function hmacVerify(secret, message, signature) {
  const key = await hmacKey(secret, "verify");
  return crypto.subtle.verify("HMAC", key, signature, encoder.encode(message));
}
