// The JS side of streamed previews (src/wasm/sse.js, shipped as a snippet of the
// package): events split from chunks cut anywhere, CRLF line ends split across
// chunks, comments, `[DONE]`, malformed data and a last event without its blank line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SseReader } from "../../src/wasm/sse.js";

async function readAll(chunks) {
  const body = new ReadableStream({
    start(c) {
      for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
      c.close();
    },
  });
  const reader = new SseReader({ body });
  const out = [];
  for (let e; (e = await reader.next()) !== null; ) out.push(e);
  return out;
}

const expected = [
  { event: "a", data: { x: 1 } },
  { event: "b", done: true },
  { event: null, malformed: true },
  { event: null, data: { y: 2 } },
];

test("events split from chunks cut anywhere", async () => {
  const text = 'event: a\r\ndata: {"x":1}\r\n\r\n: keep-alive\n\nevent: b\ndata: [DONE]\n\ndata: {bad\n\ndata: {"y":2}';
  assert.deepEqual(await readAll([text]), expected);
  // Every cut point, including between "\r" and "\n".
  for (let i = 1; i < text.length; i++) {
    assert.deepEqual(await readAll([text.slice(0, i), text.slice(i)]), expected, `cut at ${i}`);
  }
});

test("multi-line data is joined with newlines", async () => {
  assert.deepEqual(await readAll(['data: {"a":\ndata: 1}\n\n']), [{ event: null, data: { a: 1 } }]);
});

test("a broken body rejects", async () => {
  const body = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode("event: a\n"));
      c.error(new TypeError("terminated"));
    },
  });
  await assert.rejects(new SseReader({ body }).next(), /terminated/);
});
