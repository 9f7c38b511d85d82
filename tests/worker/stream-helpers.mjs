// Helpers for the streamed-response tests: an SSE reader that records when each event and
// comment arrived (every byte is scanned for secrets), and a proxy that cuts connections
// idle for longer than a limit, as platforms in front of slow generations do.

import assert from "node:assert/strict";
import net from "node:net";
import { scanResponse } from "./helpers.mjs";

/**
 * Sends a request and reads its answer to the end. For `text/event-stream` answers:
 * `events` [{event, data (parsed), at}], `comments` [{text, at}] (`at`: ms since the request
 * was sent), `ended` (clean end) or `broken` (the body failed). Other answers: `json`.
 */
export async function openStream(base, pathname, { token, json, form, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    body = JSON.stringify(json);
    h["content-type"] = "application/json";
  } else if (form) {
    body = form;
  }
  const started = Date.now();
  const response = await fetch(base + pathname, { method: "POST", headers: h, body });
  const out = { status: response.status, headers: response.headers, events: [], comments: [], text: "", ended: false, broken: false };
  const isStream = (response.headers.get("content-type") ?? "").startsWith("text/event-stream");
  if (!isStream) {
    out.text = await response.text();
    scanResponse(response, out.text, `POST ${pathname}`);
    try {
      out.json = JSON.parse(out.text);
    } catch {
      out.json = undefined;
    }
    return out;
  }
  const decoder = new TextDecoder();
  let pending = "";
  let block = [];
  const takeLine = (line) => {
    const at = Date.now() - started;
    if (line === "") {
      if (block.length) out.events.push(parseBlock(block, at));
      block = [];
    } else if (line.startsWith(":")) {
      out.comments.push({ text: line.slice(1).trim(), at });
    } else {
      block.push(line);
    }
  };
  try {
    for await (const chunk of response.body) {
      const text = decoder.decode(chunk, { stream: true });
      out.text += text;
      pending += text;
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        takeLine(pending.slice(0, nl).replace(/\r$/, ""));
        pending = pending.slice(nl + 1);
      }
    }
    out.ended = true;
  } catch {
    out.broken = true;
  }
  scanResponse(response, out.text, `POST ${pathname} (stream)`);
  return out;
}

function parseBlock(lines, at) {
  let event = "message";
  const data = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  const text = data.join("\n");
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { event, data: parsed, at };
}

/** Asserts the SSE `event:` name equals the JSON `type` of every event. */
export function assertTypedEvents(events) {
  for (const e of events) {
    const type = e.event === "error" ? "error" : e.data?.type;
    assert.equal(e.event, type, `event name ${e.event} vs type ${JSON.stringify(e.data?.type)}`);
  }
}

/**
 * A TCP proxy to `target` (http://host:port) that closes any connection on which the
 * server sent nothing for `idleMs`. Returns {url, cuts(), close()}.
 */
export async function startIdleProxy(target, idleMs) {
  const { hostname, port } = new URL(target);
  let cuts = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        cuts++;
        client.destroy();
        upstream.destroy();
      }, idleMs);
    };
    client.on("data", (d) => {
      // The clock starts once the request is on its way.
      if (!timer) arm();
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      arm();
      client.write(d);
    });
    const end = () => {
      clearTimeout(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cuts: () => cuts,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
