// The generation routes over HTTP, Node runtime and Edge runtime side by side:
// same request, same answer shape, same error mapping; NDJSON streaming; the
// dev login switched off by default.
import { after, before, describe, test } from "node:test";
import { assert, startNext } from "./helpers.mjs";

let next;
before(async () => {
  next = await startNext();
});
after(async () => {
  await next?.stop();
});

const ROUTES = { node: "/api/generate-image", edge: "/api/generate-image-edge" };

async function post(route, body, { stream = false, raw } = {}) {
  const response = await fetch(next.url + route, {
    method: "POST",
    headers: { "content-type": "application/json", ...(stream ? { accept: "application/x-ndjson" } : {}) },
    body: raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

/** The structure of a JSON value: keys and value types, recursively (array items merged). */
function shape(value) {
  if (Array.isArray(value)) {
    const items = value.map(shape).map((s) => JSON.stringify(s));
    return [...new Set(items)].sort().map((s) => JSON.parse(s));
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, shape(value[k])]),
    );
  }
  return value === null ? "null" : typeof value;
}

const svgOf = (image) => Buffer.from(image.base64, "base64").toString("utf8");

describe("Node and Edge routes", () => {
  test("both return images for the same request, with the same shape", async () => {
    const body = {
      prompt: "a red fox in the snow",
      count: 2,
      aspectRatio: "16:9",
      chain: ["primary", "fallback"],
      simulate: { failFirst: 1, failCode: "provider_error", latencyMs: 20 },
    };
    const answers = {};
    for (const [name, route] of Object.entries(ROUTES)) {
      const res = await post(route, body);
      assert.equal(res.status, 200, `${name}: ${res.text.slice(0, 500)}`);
      assert.match(res.headers.get("content-type"), /^application\/json/);
      answers[name] = JSON.parse(res.text);
    }
    for (const [name, a] of Object.entries(answers)) {
      assert.deepEqual(Object.keys(a).sort(), ["attempts", "errors", "images", "usage", "warnings"], name);
      // The mock is free: two calls (a 503, then two images), priced at $0.
      assert.deepEqual(a.usage, { costUsd: 0, byProvider: [{ provider: "mock", model: "primary", images: 2, costUsd: 0 }] }, name);
      assert.equal(a.images.length, 2, name);
      for (const image of a.images) {
        assert.equal(image.mimeType, "image/svg+xml");
        assert.equal(image.provider, "mock");
        assert.equal(image.model, "primary", `${name}: the primary recovered on its second attempt`);
        const svg = svgOf(image);
        assert.match(svg, /^<svg /);
        assert.match(svg, /width="1024" height="576"/, `${name}: 16:9 at a 1024 long edge`);
        assert.match(svg, /a red fox in the snow/);
      }
      assert.deepEqual(
        a.attempts.map((t) => [t.model, t.attempt, t.outcome, t.status ?? null]),
        [
          ["primary", 1, "provider_error", 503],
          ["primary", 2, "ok", null],
        ],
        name,
      );
      assert.deepEqual(a.errors, []);
    }
    assert.deepEqual(shape(answers.node), shape(answers.edge));
    assert.deepEqual(answers.node.warnings, answers.edge.warnings);
  });

  test("both stream NDJSON progress events, then the result", async () => {
    const body = { prompt: "streamed", count: 2, simulate: { failFirst: 100, latencyMs: 10 } };
    const runs = {};
    for (const [name, route] of Object.entries(ROUTES)) {
      const res = await post(route, body, { stream: true });
      assert.equal(res.status, 200, name);
      assert.match(res.headers.get("content-type"), /^application\/x-ndjson/);
      const lines = res.text.trim().split("\n").map((l) => JSON.parse(l));
      const events = lines.filter((l) => l.event).map((l) => l.event);
      const last = lines.at(-1);
      assert.ok(last.result, `${name}: the last line is the result: ${JSON.stringify(last).slice(0, 300)}`);
      assert.equal(lines.filter((l) => l.result).length, 1);
      assert.equal(last.result.imageCount, 2);
      assert.equal(last.result.attempts.length, 4, `${name}: three on the primary, one on the fallback`);
      const images = events.filter((e) => e.type === "image");
      assert.deepEqual(
        images.map((e) => e.index),
        [0, 1],
      );
      for (const e of images) assert.match(svgOf(e.image), /streamed/);
      runs[name] = events.map((e) => e.type);
    }
    const expected = [
      "attempt_start",
      "attempt_end",
      "retry_scheduled",
      "attempt_start",
      "attempt_end",
      "retry_scheduled",
      "attempt_start",
      "attempt_end",
      "fallback",
      "attempt_start",
      "attempt_end",
      "image",
      "image",
    ];
    assert.deepEqual(runs.node, expected);
    assert.deepEqual(runs.edge, expected);
  });

  // Error codes → HTTP statuses, identical on both runtimes.
  const cases = [
    {
      what: "content_policy → 400, no fallback",
      body: { prompt: "x", simulate: { failFirst: 100, failCode: "content_policy" } },
      status: 400,
      code: "content_policy",
      retryable: false,
      attempts: 1,
    },
    {
      what: "auth on a one-entry chain → 502, the server's key was refused",
      body: { prompt: "x", chain: ["primary"], simulate: { failFirst: 100, failCode: "auth" } },
      status: 502,
      code: "auth",
      retryable: false,
      attempts: 1,
      message: /^The server's mock key was refused \(auth, simulated\): /,
    },
    {
      what: "quota on the primary → falls back at once, 200",
      body: {
        prompt: "x",
        chain: ["primary", "fallback"],
        simulate: { target: "primary", failFirst: 100, failCode: "quota" },
      },
      // the fallback succeeds: quota falls back at once
      status: 200,
    },
    {
      what: "quota on a one-entry chain → 502",
      body: { prompt: "x", chain: ["only"], simulate: { failFirst: 100, failCode: "quota" } },
      status: 502,
      code: "quota",
      retryable: false,
      attempts: 1,
      message: /^The server's mock key is out of credit or over its quota \(quota, simulated\)/,
    },
    {
      what: "rate_limited until exhausted → 429 with Retry-After",
      body: { prompt: "x", chain: ["only"], simulate: { failFirst: 100, failCode: "rate_limited", retryAfterMs: 150 } },
      status: 429,
      code: "rate_limited",
      retryable: true,
      attempts: 3,
      retryAfter: "1",
    },
    {
      what: "provider_error until exhausted → 502",
      body: { prompt: "x", chain: ["only"], simulate: { failFirst: 100, failCode: "provider_error" } },
      status: 502,
      code: "provider_error",
      retryable: true,
      attempts: 3,
    },
    {
      what: "timeout on a one-entry chain → 504",
      body: { prompt: "x", chain: ["only"], simulate: { failFirst: 100, failCode: "timeout" } },
      status: 504,
      code: "timeout",
      retryable: true,
      attempts: 3,
    },
    {
      what: "empty prompt → 400 invalid_request from the package, naming the field",
      body: { prompt: "   " },
      status: 400,
      code: "invalid_request",
      retryable: false,
      attempts: 0,
      param: "prompt",
    },
    {
      what: "count 11 → 400",
      body: { prompt: "x", count: 11 },
      status: 400,
      code: "invalid_request",
      retryable: false,
      attempts: 0,
      param: "count",
    },
    {
      what: "a simulate target outside the chain → 400",
      body: { prompt: "x", chain: ["a"], simulate: { target: "zzz", failFirst: 1 } },
      status: 400,
      code: "invalid_request",
      retryable: false,
      attempts: 0,
      param: "simulate.target",
    },
    {
      what: "latency above the server's bound → 400",
      body: { prompt: "x", simulate: { latencyMs: 60_000 } },
      status: 400,
      code: "invalid_request",
      retryable: false,
      attempts: 0,
      param: "simulate.latencyMs",
    },
    {
      what: "not JSON → 400",
      raw: "{nope",
      status: 400,
      code: "invalid_request",
      retryable: false,
      attempts: 0,
    },
  ];

  for (const c of cases) {
    test(`error mapping: ${c.what}`, async () => {
      const bodies = {};
      for (const [name, route] of Object.entries(ROUTES)) {
        const res = await post(route, c.body, { raw: c.raw });
        assert.equal(res.status, c.status, `${name}: ${res.text.slice(0, 600)}`);
        const json = JSON.parse(res.text);
        bodies[name] = json;
        if (c.status === 200) {
          assert.ok(json.images.length >= 1, name);
          assert.ok(
            json.attempts.some((a) => a.outcome !== "ok"),
            `${name}: the failure happened and was recovered from`,
          );
          continue;
        }
        const e = json.error;
        assert.ok(e, `${name}: error envelope`);
        assert.equal(e.code, c.code, name);
        assert.equal(e.retryable, c.retryable, name);
        assert.equal(typeof e.message, "string");
        assert.ok(e.message.length > 0);
        assert.equal(e.attempts.length, c.attempts, `${name}: ${JSON.stringify(e.attempts)}`);
        if (c.attempts > 0) assert.equal(e.provider, "mock", name);
        if (c.message) assert.match(e.message, c.message, name);
        if (c.param) assert.equal(e.param, c.param, name);
        if (c.retryAfter) assert.equal(res.headers.get("retry-after"), c.retryAfter, name);
      }
      assert.deepEqual(shape(bodies.node), shape(bodies.edge));
    });
  }

  test("partialImages: previews stream as partial_image lines before their image; out of range is a 400", async () => {
    for (const [name, route] of Object.entries(ROUTES)) {
      const res = await post(route, { prompt: "a kite", count: 1, chain: ["primary"], partialImages: 3 }, { stream: true });
      assert.equal(res.status, 200, `${name}: ${res.text.slice(0, 300)}`);
      const lines = res.text.trim().split("\n").map((l) => JSON.parse(l));
      const events = lines.filter((l) => l.event).map((l) => l.event);
      const previews = events.filter((e) => e.type === "partial_image");
      assert.ok(previews.length >= 1 && previews.length <= 3, `${name}: ${previews.length} previews`);
      previews.forEach((p, i) => {
        assert.deepEqual([p.part, p.index, p.provider, p.model], [0, i, "mock", "primary"], name);
        assert.ok(p.image.base64.length > 0 && p.image.mimeType.startsWith("image/"), name);
      });
      const types = events.map((e) => e.type);
      assert.ok(types.lastIndexOf("partial_image") < types.indexOf("image"), `${name}: previews come first: ${types}`);
      assert.equal(lines.at(-1).result.imageCount, 1, name);
      // The images are results; previews are not.
      assert.equal(events.filter((e) => e.type === "image").length, 1, name);

      const bad = await post(route, { prompt: "a kite", partialImages: 4 }, { stream: true });
      assert.equal(bad.status, 400, name);
      assert.equal(JSON.parse(bad.text).error.param, "partialImages", name);
    }
  });

  test("a streamed failure ends with the status and error the JSON answer would have", async () => {
    for (const route of Object.values(ROUTES)) {
      const res = await post(route, { prompt: "x", simulate: { failFirst: 100, failCode: "content_policy" } }, { stream: true });
      assert.equal(res.status, 200);
      const lines = res.text.trim().split("\n").map((l) => JSON.parse(l));
      const last = lines.at(-1);
      assert.equal(last.status, 400, route);
      assert.equal(last.error.code, "content_policy");
      assert.equal(last.error.retryable, false);
      assert.deepEqual(
        lines.slice(0, -1).map((l) => l.event.type),
        ["attempt_start", "attempt_end"],
        `${route}: no retry, no fallback`,
      );
    }
  });

  test("GET tells which providers have keys (none here: mock only)", async () => {
    for (const [name, route] of Object.entries(ROUTES)) {
      const r = await fetch(next.url + route);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { providers: [], mockOnly: true, runtime: name === "node" ? "nodejs" : "edge" });
    }
  });

  test("the dev login is off unless IMAGEGEN_DEV_LOGIN=1", async () => {
    const r = await fetch(`${next.url}/api/dev-login`, { method: "POST" });
    assert.equal(r.status, 404);
    assert.ok(!(await r.text()).includes("token"));
  });
});
