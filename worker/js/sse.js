// Streamed responses (`"stream": true`): a server-sent event stream whose
// events are written here, where the images live. Wasm hands over each
// event's data as a JS object (its base64 strings are the very JS strings the
// engine got from the provider) and the framing, JSON text and UTF-8 bytes
// are made on this side, so no image enters wasm memory.

const encoder = new TextEncoder();

// Opens a stream: {response, send(type, data), sendText(type, json),
// close(), gone}. While nothing else is written, a `: keep-alive` comment
// goes out `keepAliveMs` after the last write, so idle proxies keep the
// connection. `gone` resolves once the stream ends: true when the client
// stopped reading, false after close().
export function openEvents(keepAliveMs, headers) {
  const { readable, writable } = new TransformStream();
  const writer = writable.getWriter();
  let open = true;
  let timer;
  let leave;
  const gone = new Promise((resolve) => {
    leave = resolve;
  });
  const stop = () => {
    open = false;
    clearTimeout(timer);
  };
  const lost = () => {
    stop();
    leave(true);
  };
  writer.closed.catch(lost);
  const arm = () => {
    clearTimeout(timer);
    if (open) timer = setTimeout(() => write(": keep-alive\n\n"), keepAliveMs);
  };
  function write(text) {
    if (!open) return;
    writer.write(encoder.encode(text)).catch(lost);
    arm();
  }
  arm();
  const response = new Response(readable, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
      ...headers,
    },
  });
  return {
    response,
    gone,
    // `event: <type>` and `data: <data as JSON>`; the SSE event name is the
    // JSON `type`.
    send(type, data) {
      write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    // The same with data already JSON text (one line).
    sendText(type, json) {
      write(`event: ${type}\ndata: ${json}\n\n`);
    },
    close() {
      if (!open) return;
      stop();
      leave(false);
      writer.close().catch(() => {});
    },
  };
}

// Keeps the request alive until `promise` settles, also after the client
// went away (so a paid result can still be stored).
export function keepRunning(ctx, promise) {
  if (ctx && typeof ctx.waitUntil === "function") ctx.waitUntil(promise);
}
