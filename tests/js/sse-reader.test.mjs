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

test("a large event in many small chunks, and one character per chunk", async () => {
  const b64 = "A".repeat(300_000);
  const text = `event: p\r\ndata: {"b64_json":"${b64}"}\r\n\r\nevent: q\ndata: {"i":2}\n\n`;
  const want = [
    { event: "p", data: { b64_json: b64 } },
    { event: "q", data: { i: 2 } },
  ];
  const chunks = [];
  for (let i = 0; i < text.length; i += 997) chunks.push(text.slice(i, i + 997));
  assert.deepEqual(await readAll(chunks), want);
  const small = 'event: a\r\ndata: {"x":1}\r\n\r\n\n\nevent: b\ndata: [DONE]\n\n';
  assert.deepEqual(await readAll([...small]), [
    { event: "a", data: { x: 1 } },
    { event: "b", done: true },
  ]);
});
