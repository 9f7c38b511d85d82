// A capture server for the conformance suite: records every request exactly as it arrived
// (method, path, query, headers, raw body; JSON parsed; multipart split into parts with their
// own headers and content types) and answers with realistic provider payloads taken from
// tests/fixtures/, or with whatever a test scripted for the request's API key.
//
// Each logical call runs under its own API key (`capture.run`), so the requests of one side
// (the package, an SDK, the documented form) are told apart by the key they carried.

import http from "node:http";
import { loadFixtures, PNG_1X1_BASE64 } from "../mock-server/server.mjs";

const fixtures = loadFixtures();

/** The fixture `provider/name` as a response spec {status, headers, body|bodyText|bodyBase64}. */
export function fixture(name) {
  const f = fixtures.get(name);
  if (!f) throw new Error(`no fixture ${name}`);
  return structuredClone(f);
}

/** The API key a request carried: `Authorization: Bearer K`, `x-goog-api-key: K` or `?key=K`. */
function keyOf(headers, query) {
  const bearer = /^\s*Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
  if (bearer) return bearer[1];
  if (headers["x-goog-api-key"]) return headers["x-goog-api-key"];
  return query.get("key") ?? null;
}

/** Splits a multipart/form-data body into parts: {name, filename?, contentType?, headers, value|size}. */
export function parseMultipartParts(buffer, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  if (!m) return null;
  const boundary = m[1] ?? m[2];
  const text = buffer.toString("latin1"); // byte-preserving; parts are re-decoded below
  const delimiter = `--${boundary}`;
  const chunks = text.split(delimiter);
  if (chunks.length < 3 || !chunks.at(-1).startsWith("--")) return null;
  const parts = [];
  for (const chunk of chunks.slice(1, -1)) {
    if (!chunk.startsWith("\r\n") || !chunk.endsWith("\r\n")) return null;
    const inner = chunk.slice(2, -2);
    const split = inner.indexOf("\r\n\r\n");
    if (split < 0) return null;
    const headers = {};
    for (const line of inner.slice(0, split).split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bytes = Buffer.from(inner.slice(split + 4), "latin1");
    const disposition = headers["content-disposition"] ?? "";
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    const part = { name, headers };
    if (headers["content-type"] !== undefined) part.contentType = headers["content-type"];
    if (filename !== undefined) {
      part.filename = filename;
      part.size = bytes.length;
    } else {
      part.value = bytes.toString("utf8");
    }
    parts.push(part);
  }
  return parts;
}

function parseRequestBody(raw, contentType) {
  if (raw.length === 0) return { kind: "empty" };
  if (/^\s*multipart\/form-data\b/i.test(contentType ?? "")) {
    const parts = parseMultipartParts(raw, contentType);
    return parts ? { kind: "multipart", parts } : { kind: "invalid" };
  }
  try {
    return { kind: "json", json: JSON.parse(raw.toString("utf8")) };
  } catch {
    return { kind: "invalid" };
  }
}

// ---------------------------------------------------------------------------------------------
// Default answers: each provider's success payload, from the shared fixtures.

function json(status, body, headers = {}) {
  return { status, headers: { "content-type": "application/json", ...headers }, body };
}

function openaiSuccess(req) {
  const template = fixture("openai/success").body;
  const body = req.json ?? {};
  const n = Number.isInteger(body.n) ? body.n : 1;
  return json(200, {
    ...template,
    output_format: body.output_format ?? "png",
    size: typeof body.size === "string" && body.size !== "auto" ? body.size : "1024x1024",
    quality: ["low", "medium", "high"].includes(body.quality) ? body.quality : "medium",
    data: Array.from({ length: n }, () => ({ b64_json: PNG_1X1_BASE64 })),
  });
}

function geminiSuccess(req, model) {
  const body = fixture("gemini/success").body;
  body.modelVersion = model;
  return json(200, body);
}

function stabilitySuccess(req) {
  const accept = req.headers.accept ?? "";
  if (/application\/json/i.test(accept)) {
    const f = fixture("stability/success_json");
    return { status: f.status, headers: f.headers, body: f.body };
  }
  return fixture("stability/success_png");
}

function defaultAnswer(req) {
  let m;
  if (req.method === "POST" && (req.path === "/v1/images/generations" || req.path === "/v1/images/edits")) return openaiSuccess(req);
  if (req.method === "POST" && (m = /^\/v1(?:beta|alpha)?\/models\/([^/:]+):generateContent$/.exec(req.path))) {
    return geminiSuccess(req, decodeURIComponent(m[1]));
  }
  if (req.method === "POST" && /^\/v2beta\/stable-image\/generate\/[^/]+$/.test(req.path)) return stabilitySuccess(req);
  return json(404, { error: { message: `no capture route for ${req.method} ${req.path}` } });
}

function write(res, spec) {
  const headers = { ...(spec.headers ?? {}) };
  let payload;
  if (spec.body !== undefined) {
    payload = Buffer.from(JSON.stringify(spec.body));
    headers["content-type"] ??= "application/json";
  } else if (spec.bodyText !== undefined) {
    payload = Buffer.from(spec.bodyText);
    headers["content-type"] ??= "text/plain";
  } else if (spec.bodyBase64 !== undefined) {
    payload = Buffer.from(spec.bodyBase64, "base64");
  } else {
    payload = Buffer.alloc(0);
  }
  headers["content-length"] = String(payload.length);
  // One connection per request: no idle keep-alive socket for a client to reuse just as the
  // server times it out (a reset that would fail a test for no reason of its own).
  headers.connection = "close";
  res.writeHead(spec.status ?? 200, headers);
  res.end(payload);
}

// ---------------------------------------------------------------------------------------------

/**
 * Starts the capture server on 127.0.0.1, any free port.
 * Returns {url, run(label, fn), script(key, answers, after?), requests(key), close()}.
 */
export async function startCaptureServer() {
  const log = [];
  const scripts = new Map();
  let seq = 0;

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, "http://capture.invalid");
      const raw = Buffer.concat(chunks);
      const entry = {
        seq: ++seq,
        method: req.method,
        path: url.pathname,
        query: url.searchParams,
        headers: { ...req.headers },
        rawHeaderNames: req.rawHeaders.filter((_, i) => i % 2 === 0),
        raw,
        ...parseRequestBody(raw, req.headers["content-type"]),
      };
      entry.key = keyOf(entry.headers, entry.query);
      log.push(entry);
      const script = entry.key ? scripts.get(entry.key) : undefined;
      let answer;
      if (script) {
        const next = script.answers.length > 0 ? script.answers.shift() : script.after;
        answer = typeof next === "function" ? next(entry) : next;
      }
      write(res, answer ?? defaultAnswer(entry));
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  let keys = 0;

  return {
    url,
    /** The requests that carried `key`, in arrival order. */
    requests: (key) => log.filter((r) => r.key === key),
    /**
     * Scripts the answers to requests carrying `key`: `answers` in order (response specs or
     * functions of the request), then `after` for every further request (default: success).
     */
    script(key, answers, after) {
      scripts.set(key, { answers: [...answers], after });
    },
    /**
     * Runs `fn(key)` with a fresh API key and returns {key, requests, result, error}: what `fn`
     * returned or threw, and every request that carried the key. `answers`/`after` script the
     * replies to those requests.
     */
    async run(label, fn, { answers, after } = {}) {
      const key = `${label}-capture-${++keys}-${Math.random().toString(36).slice(2, 10)}`;
      if (answers || after) this.script(key, answers ?? [], after);
      let result;
      let error;
      try {
        result = await fn(key);
      } catch (e) {
        error = e;
      }
      return { key, requests: log.filter((r) => r.key === key), result, error };
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
