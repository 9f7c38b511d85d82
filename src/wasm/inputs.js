// Input images for edits, handled where they live: every caller's input is
// turned into a Blob (no copy for a Blob; one JS-side copy for bytes and
// base64), and only the first bytes ever reach wasm memory (to learn the
// format and size). Request bodies are assembled here from Blobs and JS
// strings.

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text) {
  const clean = text.replace(/\s+/g, "");
  if (clean.length % 4 === 1 || !B64.test(clean)) return null;
  if (typeof Buffer === "function") return new Uint8Array(Buffer.from(clean, "base64"));
  const bin = atob(clean);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function encodeBase64(bytes) {
  if (typeof Buffer === "function") {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  }
  let out = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    out += btoa(String.fromCharCode.apply(null, bytes.subarray(i, i + step)));
  }
  return out;
}

// { blob, base64? } for a supported input, { error } otherwise:
// "remote_url" | "data_url" | "base64" | "type".
export function inputFrom(value) {
  if (typeof Blob === "function" && value instanceof Blob) return { blob: value };
  if (value instanceof ArrayBuffer) return { blob: new Blob([value]) };
  if (ArrayBuffer.isView(value)) {
    return { blob: new Blob([new Uint8Array(value.buffer, value.byteOffset, value.byteLength)]) };
  }
  if (typeof value === "string") {
    if (/^https?:/i.test(value)) return { error: "remote_url" };
    const m = /^data:([^;,]*)(;[^,]*)?,/i.exec(value);
    if (!m || !/;base64$/i.test(m[2] || "")) return { error: "data_url" };
    const base64 = value.slice(m[0].length);
    const bytes = decodeBase64(base64);
    return bytes ? { blob: new Blob([bytes]), base64 } : { error: "base64" };
  }
  if (value && typeof value === "object" && typeof value.base64 === "string") {
    if (typeof value.mimeType !== "string") return { error: "type" };
    const bytes = decodeBase64(value.base64);
    return bytes ? { blob: new Blob([bytes]), base64: value.base64 } : { error: "base64" };
  }
  return { error: "type" };
}

export function inputSize(input) {
  return input.blob.size;
}

// Up to `len` bytes at `offset` (fewer at the end).
export async function readBytes(input, offset, len) {
  return new Uint8Array(await input.blob.slice(offset, offset + len).arrayBuffer());
}

// The whole input as base64, as a JS string (kept for the next caller).
export async function base64Of(input) {
  if (input.base64 === undefined) {
    input.base64 = encodeBase64(new Uint8Array(await input.blob.arrayBuffer()));
  }
  return input.base64.replace(/\s+/g, "");
}

// The input as a Blob with its real type (a slice: no copy).
export function typedBlob(input, mime) {
  return input.blob.slice(0, input.blob.size, mime);
}

export function newForm() {
  return new FormData();
}

export function appendText(form, name, text) {
  form.append(name, text);
}

export function appendBlob(form, name, blob, filename) {
  form.append(name, blob, filename);
}

// Bytes made by the library (a converted mask), copied out of wasm memory.
export function bytesBlob(bytes, mime) {
  return new Blob([bytes.slice()], { type: mime });
}

export function joinStrings(parts) {
  return parts.join("");
}

// zlib through the platform's streams (masks only: small).
async function through(bytes, stream) {
  const out = new Response(new Blob([bytes.slice()]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

export function inflate(bytes) {
  return through(bytes, new DecompressionStream("deflate"));
}

export function deflate(bytes) {
  return through(bytes, new CompressionStream("deflate"));
}
