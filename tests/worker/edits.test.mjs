// POST /v1/images/edits end to end: multipart in, the edit as the mock provider server
// received it (file count, field names, each part's type, the mask), errors with
// `param: "image"` / `"mask"`, the 50 MiB limit, fallback that skips entries that cannot
// take the inputs, idempotency, wasm memory, and the official OpenAI JS client's
// `images.edit(...)`.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import OpenAI, { toFile } from "openai";
import {
  PNG_1X1_BASE64,
  devToken,
  expectError,
  expectStatus,
  fakeKey,
  scanningFetch,
  startMockServer,
  startWorker,
  storeConfig,
  storeKey,
  uid,
} from "./helpers.mjs";
import { encodePng, makeJpegHeader, makePngOfSize, makeWebpHeader } from "../mock-server/server.mjs";

let mock;
let worker;

before(async () => {
  mock = await startMockServer();
  worker = await startWorker({ mockUrl: mock.url });
});

after(async () => {
  await worker?.close();
  await mock?.close();
});

const MIB = 1024 * 1024;
const sha256 = (bytes) => crypto.createHash("sha256").update(bytes).digest("hex");
const png = (w, h) => encodePng(w, h, { colorType: 2 });
// OpenAI's mask convention: alpha 0 = the area to change (here the left half).
const mask = (w, h) => encodePng(w, h, { colorType: 6, pixel: (x) => [0, 0, 0, x < w / 2 ? 0 : 255] });

/** A multipart form: text `fields`, then `files` ([name, bytes, type, filename]) in order. */
function form(fields, files) {
  const f = new FormData();
  for (const [name, value] of Object.entries(fields)) f.append(name, String(value));
  for (const [name, bytes, type, filename = `${name.replace("[]", "")}.bin`] of files) {
    f.append(name, new Blob([bytes], { type }), filename);
  }
  return f;
}

const edit = (token, body, options = {}) =>
  worker.request("/v1/images/edits", { method: "POST", token, body, ...options });

/**
 * A multipart body of `mib` MiB (the start of a form, then filler) sent with node:http, so
 * the Worker's answer is read even when it comes before the body is all sent (fetch gives
 * up on an early answer). Stops sending once the answer is there.
 */
function rawEdit(token, headers, mib) {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(`${worker.url}/v1/images/edits`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
    req.on("error", (e) => answered || reject(e));
    req.on("response", (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        req.destroy();
        let json;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, headers: new Headers(res.headers), text, json });
      });
    });
    req.flushHeaders();
    (async () => {
      if (mib === 0) return; // the answer is due on the headers alone
      req.write('--' + headers["content-type"].split("boundary=")[1] + '\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\n\r\n');
      const chunk = Buffer.alloc(MIB, 0x61);
      for (let i = 0; i < mib && !answered; i++) {
        if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
      }
      if (!answered) req.end();
    })().catch(() => {});
  });
}

/** The mock's logged edit requests made with `key`. */
const editRequests = (key) => mock.requests(key).filter((r) => r.route === "edit");

/** A user with an OpenAI key (and more providers first, if asked), chain in that order. */
async function user(chain = ["openai"]) {
  const token = devToken(uid("edit"));
  const keys = {};
  for (const provider of chain) {
    keys[provider] = fakeKey("edit", provider);
    await storeKey(worker, token, provider, keys[provider]);
  }
  await storeConfig(worker, token, chain.map((provider) => ({ provider })));
  return { token, keys };
}

describe("POST /v1/images/edits", () => {
  test("one image: forwarded as `image` with its real type; the generations response shape", async () => {
    const { token, keys } = await user();
    const image = png(64, 48);
    const res = await edit(
      token,
      form({ prompt: "add a hat", size: "1024x1024", quality: "low", output_format: "png" }, [["image", image, "image/png"]]),
    );
    expectStatus(res, 200, "edit");
    assert.ok(Number.isInteger(res.json.created));
    assert.equal(res.json.data.length, 1);
    assert.equal(res.json.data[0].b64_json, PNG_1X1_BASE64);
    assert.equal(res.json.data[0].provider, "openai");
    assert.deepEqual(res.json.errors, []);
    const sent = editRequests(keys.openai);
    assert.equal(sent.length, 1);
    const inputs = sent[0].inputs;
    assert.equal(inputs.count, 1);
    assert.equal(inputs.imageField, "image");
    assert.equal(inputs.images[0].contentType, "image/png");
    assert.equal(inputs.images[0].sha256, sha256(image), "the bytes arrive unchanged");
    assert.deepEqual([inputs.images[0].width, inputs.images[0].height], [64, 48]);
    assert.equal(inputs.mask, null);
    for (const name of ["prompt", "size", "quality", "output_format"]) {
      assert.ok(inputs.fieldNames.includes(name), `${name} forwarded: ${inputs.fieldNames}`);
    }
  });

  test("several images as image[]: order kept, each with its real image/* type, plus a mask", async () => {
    const { token, keys } = await user();
    const images = [png(32, 32), makeJpegHeader(40, 30), makeWebpHeader(20, 10), png(16, 16)];
    const res = await edit(
      token,
      form({ prompt: "combine" }, [
        ["image[]", images[0], "image/png"],
        ["image[]", images[1], "image/jpeg"],
        // Declared types are not trusted: the bytes decide what is forwarded.
        ["image[]", images[2], "application/octet-stream"],
        ["mask", mask(32, 32), "image/png"],
        ["image[]", images[3], "text/plain"],
      ]),
    );
    expectStatus(res, 200, "edit");
    const [sent] = editRequests(keys.openai);
    const inputs = sent.inputs;
    assert.equal(inputs.count, 4);
    assert.equal(inputs.imageField, "image[]");
    assert.deepEqual(
      inputs.images.map((i) => [i.contentType, i.sha256]),
      [
        ["image/png", sha256(images[0])],
        ["image/jpeg", sha256(images[1])],
        ["image/webp", sha256(images[2])],
        ["image/png", sha256(images[3])],
      ],
    );
    assert.ok(inputs.mask, "mask forwarded");
    assert.equal(inputs.mask.contentType, "image/png");
    assert.deepEqual([inputs.mask.width, inputs.mask.height], [32, 32]);
    assert.equal(inputs.mask.transparentFraction, 0.5, "OpenAI's convention kept");
  });

  test("octet-stream parts (as curl sends them) are taken when their bytes are images", async () => {
    const { token, keys } = await user();
    const res = await edit(
      token,
      form({ prompt: "curl" }, [
        ["image", png(24, 24), "application/octet-stream"],
        ["mask", mask(24, 24), "application/octet-stream"],
      ]),
    );
    expectStatus(res, 200, "edit");
    const [sent] = editRequests(keys.openai);
    assert.equal(sent.inputs.images[0].contentType, "image/png");
    assert.equal(sent.inputs.mask.contentType, "image/png");
  });

  test("the mock provider sees the inputs (inputs=N mask=yes|no)", async () => {
    const token = devToken(uid("edit"));
    const svg = async (files) => {
      const res = await edit(token, form({ prompt: "x", model: "mock" }, files));
      expectStatus(res, 200, "mock edit");
      return Buffer.from(res.json.data[0].b64_json, "base64").toString("utf8");
    };
    assert.match(await svg([["image[]", png(8, 8), "image/png"], ["image[]", png(9, 9), "image/png"], ["mask", mask(8, 8), "image/png"]]), /inputs=2 mask=yes/);
    assert.match(await svg([["image", png(8, 8), "image/png"]]), /inputs=1 mask=no/);
  });

  test("JSON and other content types: 415", async () => {
    const token = devToken(uid("edit"));
    const json = await worker.request("/v1/images/edits", { method: "POST", token, json: { prompt: "x", model: "mock" } });
    expectError(json, { status: 415, code: "unsupported_media_type" });
    assert.match(json.json.error.message, /multipart\/form-data/);
    const text = await edit(token, "prompt=x", { headers: { "content-type": "application/x-www-form-urlencoded" } });
    expectError(text, { status: 415, code: "unsupported_media_type" });
  });

  test("above 50 MiB: 413, by Content-Length and while reading a chunked body", async () => {
    const { token, keys } = await user();
    const boundary = "----edits-limit";
    const type = { "content-type": `multipart/form-data; boundary=${boundary}` };
    const declared = await rawEdit(token, { ...type, "content-length": String(50 * MIB + 1) }, 0);
    expectError(declared, { status: 413, code: "payload_too_large" });
    // No Content-Length: the limit holds while the body streams in.
    const chunked = await rawEdit(token, type, 52);
    expectError(chunked, { status: 413, code: "payload_too_large" });
    // Just under the limit is read (and then judged on its content).
    const fits = await edit(token, form({ prompt: "fits" }, [["image", makePngOfSize(49 * MIB), "image/png"]]));
    expectStatus(fits, 200, "49 MiB edit");
    assert.equal(editRequests(keys.openai).length, 1, "only the edit within the limit reached the provider");
  });

  test("an invalid image: 400 invalid_request, param image, no provider call", async () => {
    const { token, keys } = await user();
    const notImage = Buffer.from("GIF89a not what we take");
    const one = await edit(token, form({ prompt: "x" }, [["image", notImage, "image/png"]]));
    const err = expectError(one, { status: 400, code: "invalid_request", param: "image" });
    assert.match(err.message, /`image`/);
    const second = await edit(token, form({ prompt: "x" }, [["image[]", png(8, 8), "image/png"], ["image[]", Buffer.from("text"), "image/png"]]));
    const err2 = expectError(second, { status: 400, code: "invalid_request", param: "image" });
    assert.match(err2.message, /image\[1\]/, "the message says which image");
    const none = await edit(token, form({ prompt: "x" }, []));
    expectError(none, { status: 400, param: "image" });
    const asText = await edit(token, form({ prompt: "x", image: "a.png" }, []));
    expectError(asText, { status: 400, param: "image" });
    const tooMany = await edit(token, form({ prompt: "x" }, Array.from({ length: 17 }, () => ["image[]", png(4, 4), "image/png"])));
    expectError(tooMany, { status: 400, param: "image" });
    const noPrompt = await edit(token, form({}, [["image", png(8, 8), "image/png"]]));
    expectError(noPrompt, { status: 400, param: "prompt" });
    const badN = await edit(token, form({ prompt: "x", n: "two" }, [["image", png(8, 8), "image/png"]]));
    expectError(badN, { status: 400, param: "n" });
    assert.equal(editRequests(keys.openai).length, 0);
  });

  test("a mask of another size, or not a PNG: 400 param mask", async () => {
    const { token, keys } = await user();
    const wrongSize = await edit(token, form({ prompt: "x" }, [["image", png(32, 32), "image/png"], ["mask", mask(16, 32), "image/png"]]));
    const err = expectError(wrongSize, { status: 400, code: "invalid_request", param: "mask" });
    assert.match(err.message, /16x32.*32x32/);
    const jpegMask = await edit(token, form({ prompt: "x" }, [["image", png(32, 32), "image/png"], ["mask", makeJpegHeader(32, 32), "image/png"]]));
    expectError(jpegMask, { status: 400, param: "mask" });
    assert.equal(editRequests(keys.openai).length, 0);
  });

  test("fallback skips an entry that cannot take the inputs, says so, and never calls it", async () => {
    const { token, keys } = await user(["gemini", "openai"]);
    const res = await edit(token, form({ prompt: "fill" }, [["image", png(32, 32), "image/png"], ["mask", mask(32, 32), "image/png"]]));
    expectStatus(res, 200, "edit with fallback");
    assert.deepEqual(
      res.json.attempts.map((a) => [a.provider, a.outcome, !!a.skipped]),
      [
        ["gemini", "unsupported", true],
        ["openai", "ok", false],
      ],
    );
    assert.ok(res.json.warnings.some((w) => w.code === "input_unsupported" && w.provider === "gemini" && /mask/.test(w.message)));
    assert.equal(res.json.data[0].provider, "openai");
    assert.equal(mock.requests(keys.gemini).filter((r) => r.route !== "validate_key").length, 0, "gemini never called");
    assert.equal(editRequests(keys.openai).length, 1);
  });

  test("no entry can take the inputs: unsupported before any provider call, every entry listed", async () => {
    const { token, keys } = await user(["gemini"]);
    const res = await edit(token, form({ prompt: "fill" }, [["image", png(32, 32), "image/png"], ["mask", mask(32, 32), "image/png"]]));
    const err = expectError(res, { status: 502, code: "unsupported" });
    assert.match(err.message, /mask/);
    assert.equal(mock.requests(keys.gemini).filter((r) => r.route !== "validate_key").length, 0, "gemini never called");
  });

  test("the per-user rate limit counts edits", async () => {
    const limited = await startWorker({ mockUrl: mock.url, bindings: { RATE_LIMIT_PER_MINUTE: "2" } });
    try {
      const token = devToken(uid("edit-rl"));
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await limited.request("/v1/images/edits", {
          method: "POST",
          token,
          body: form({ prompt: "x", model: "mock" }, [["image", png(8, 8), "image/png"]]),
        });
        statuses.push(res.status);
        if (res.status === 429) expectError(res, { status: 429, type: "rate_limit_error" });
      }
      assert.deepEqual(statuses, [200, 200, 429]);
    } finally {
      await limited.close();
    }
  });

  test("Idempotency-Key: a repeat replays, another form with the same key is 422", async () => {
    const { token, keys } = await user();
    const key = `edit-${uid()}`;
    const body = () => form({ prompt: "once" }, [["image", png(12, 12), "image/png"]]);
    const first = await edit(token, body(), { headers: { "idempotency-key": key } });
    expectStatus(first, 200, "first");
    const again = await edit(token, body(), { headers: { "idempotency-key": key } });
    expectStatus(again, 200, "replay");
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.json.data[0].b64_json, first.json.data[0].b64_json);
    const other = await edit(token, form({ prompt: "once" }, [["image", png(13, 12), "image/png"]]), {
      headers: { "idempotency-key": key },
    });
    expectError(other, { status: 422, code: "idempotency_key_reused" });
    assert.equal(editRequests(keys.openai).length, 1, "paid once");
  });

  test("authentication as for generations", async () => {
    const res = await edit(undefined, form({ prompt: "x" }, [["image", png(8, 8), "image/png"]]));
    expectError(res, { status: 401, type: "authentication_error" });
  });

  test("input files do not enter wasm memory: 10 edits of 4 MiB grow it by at most 1 MiB", async () => {
    const { token } = await user();
    const memory = async () => (await worker.request("/healthz")).json.wasmMemoryBytes;
    const big = makePngOfSize(4 * MIB);
    const run = async () => expectStatus(await edit(token, form({ prompt: "big" }, [["image", big, "image/png"]])), 200, "4 MiB edit");
    await run(); // warm-up: first-use allocations
    const before = await memory();
    for (let i = 0; i < 10; i++) await run();
    const growth = (await memory()) - before;
    assert.ok(growth <= MIB, `wasm memory grew by ${growth} bytes over 10 edits of 4 MiB`);
  });
});

describe("OpenAI SDK images.edit", () => {
  const client = (token) =>
    new OpenAI({ apiKey: token, baseURL: `${worker.url}/v1`, fetch: scanningFetch, maxRetries: 0, timeout: 60_000 });

  test("one image, without and with a mask", async () => {
    const { token, keys } = await user();
    const openai = client(token);
    const image = png(40, 40);
    const plain = await openai.images.edit({ image: await toFile(image, "a.png", { type: "image/png" }), prompt: "a hat" });
    assert.equal(plain.data.length, 1);
    assert.equal(plain.data[0].b64_json, PNG_1X1_BASE64);
    const masked = await openai.images.edit({
      image: await toFile(image, "a.png", { type: "image/png" }),
      mask: await toFile(mask(40, 40), "mask.png", { type: "image/png" }),
      prompt: "a hat",
      n: 2,
      size: "1024x1024",
    });
    assert.equal(masked.data.length, 2);
    const sent = editRequests(keys.openai);
    assert.deepEqual(
      sent.map((r) => [r.inputs.count, r.inputs.imageField, r.inputs.images[0].sha256, !!r.inputs.mask]),
      [
        [1, "image", sha256(image), false],
        [1, "image", sha256(image), true],
      ],
    );
  });

  test("several images (sent as image[]), without and with a mask; errors as BadRequestError", async () => {
    const { token, keys } = await user();
    const openai = client(token);
    const images = [png(30, 30), png(31, 31), png(32, 32)];
    const files = () => Promise.all(images.map((b, i) => toFile(b, `${i}.png`, { type: "image/png" })));
    const plain = await openai.images.edit({ image: await files(), prompt: "merge", model: "openai" });
    assert.equal(plain.data[0].provider, "openai");
    await openai.images.edit({
      image: await files(),
      mask: await toFile(mask(30, 30), "mask.png", { type: "image/png" }),
      prompt: "merge",
    });
    const sent = editRequests(keys.openai);
    assert.deepEqual(
      sent.map((r) => [r.inputs.count, r.inputs.imageField, r.inputs.images.map((i) => i.sha256).join(), !!r.inputs.mask]),
      [
        [3, "image[]", images.map(sha256).join(), false],
        [3, "image[]", images.map(sha256).join(), true],
      ],
    );
    await assert.rejects(
      openai.images.edit({
        image: await files(),
        mask: await toFile(mask(8, 8), "mask.png", { type: "image/png" }),
        prompt: "merge",
      }),
      (error) => {
        assert.ok(error instanceof OpenAI.BadRequestError, `expected BadRequestError, got ${error?.constructor?.name}`);
        assert.equal(error.param, "mask");
        return true;
      },
    );
  });
});
