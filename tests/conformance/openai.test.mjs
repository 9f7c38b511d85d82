// OpenAI: each case of the table through the built package and through the official openai SDK
// (and the AI SDK's @ai-sdk/openai), both pointed at the capture server; the requests must be
// the same up to the allow-list. The openai SDK sends its parameters as given, so its request
// validator is its TypeScript type: the package's bodies are type-checked against it too.

import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { startCaptureServer } from "./capture.mjs";
import { OPENAI_CASES } from "./cases.mjs";
import { assertAllowListUsed, assertPackageCall, assertSameRequests } from "./harness.mjs";
import { viaAiSdkOpenAI, viaOpenAI, viaPackage } from "./oracles.mjs";
import { typeCheck } from "./typecheck.mjs";

let capture;
before(async () => {
  capture = await startCaptureServer();
});
after(() => capture.close());

const packageBodies = [];

for (const c of OPENAI_CASES) {
  describe(`openai: ${c.name}`, () => {
    let pkg;
    before(async () => {
      pkg = await viaPackage(capture, "openai", c);
      if (pkg.requests[0]?.json) packageBodies.push({ name: c.name, body: pkg.requests[0].json });
    });

    test("the package makes one call", () => {
      assertPackageCall(pkg, 1, c.warnings);
      assert.equal(pkg.result.images.length, c.request.count ?? 1);
    });

    test("same request as the openai SDK's images.generate", async (t) => {
      const ref = await viaOpenAI(capture, c.sdk);
      const allowed = assertSameRequests(pkg, ref, { provider: "openai", oracle: "openai", refName: "openai@7.59.0" });
      t.diagnostic(`allowed: ${allowed.join(", ") || "nothing"}`);
    });

    test("same request as the AI SDK's generateImage (@ai-sdk/openai)", async (t) => {
      const ref = await viaAiSdkOpenAI(capture, c.sdk);
      const allowed = assertSameRequests(pkg, ref, { provider: "openai", oracle: "ai-sdk", refName: "@ai-sdk/openai@4.0.118" });
      t.diagnostic(`allowed: ${allowed.join(", ") || "nothing"}`);
    });
  });
}

// The SDK's request type, checked once for the package's bodies and two planted mistakes (so
// the check is seen to fail).
const PLANTED = [
  { name: "planted: seed", type: "ImageGenerateParamsNonStreaming", value: { model: "gpt-image-2", prompt: "x", seed: 1 } },
  { name: "planted: quality", type: "ImageGenerateParamsNonStreaming", value: { model: "gpt-image-2", prompt: "x", quality: "ultra" } },
];
let diagnostics;
function typeDiagnostics() {
  diagnostics ??= typeCheck(
    ['import type { ImageGenerateParamsNonStreaming } from "openai/resources/images";'],
    [...packageBodies.map((b) => ({ name: b.name, type: "ImageGenerateParamsNonStreaming", value: b.body })), ...PLANTED],
  );
  return diagnostics;
}

test("openai: every body the package sent is an ImageGenerateParamsNonStreaming (openai@7.59.0 types)", () => {
  assert.equal(packageBodies.length, OPENAI_CASES.length, "every case captured a body");
  const problems = typeDiagnostics().filter((d) => !d.startsWith("planted"));
  assert.deepEqual(problems, [], `the package's bodies break the SDK's request type:\n  ${problems.join("\n  ")}`);
});

test("openai: the type check rejects a field the SDK does not have and a value it does not list", () => {
  const planted = typeDiagnostics().filter((d) => d.startsWith("planted"));
  assert.equal(planted.length, 2, planted.join("\n"));
  assert.match(planted[0], /^planted: seed: .*'"?seed"?' does not exist/);
  assert.match(planted[1], /^planted: quality: .*"ultra"/);
});

/**
 * The models openai@7.59.0 calls shut down or retired, from the doc comment of its ImageModel
 * type: ' - "gpt-image-1": GPT Image 1 was shut down on October 23, 2026. …', ' - "dall-e-2",
 * "dall-e-3": This model was retired on May 12, 2026. …'.
 */
function retiredPerSdk() {
  const require = createRequire(import.meta.url);
  const dts = fs.readFileSync(require.resolve("openai/resources/images").replace(/\.js$/, ".d.ts"), "utf8");
  const doc = /Deprecated values:([\s\S]*?)\*\/\s*export type ImageModel\b/.exec(dts)?.[1] ?? "";
  const retired = [];
  for (const item of doc.replace(/\n\s*\*\s*/g, " ").split(/ - (?=")/)) {
    const [ids, text] = [item.slice(0, item.indexOf(":")), item.slice(item.indexOf(":") + 1)];
    if (/shut down|retired/.test(text)) retired.push(...[...ids.matchAll(/"([^"]+)"/g)].map((m) => m[1]));
  }
  return retired;
}

test("openai: the package's default model is not one the SDK calls shut down or retired", () => {
  const retired = retiredPerSdk();
  assert.deepEqual(retired.sort(), ["dall-e-2", "dall-e-3", "gpt-image-1"], "the SDK's list as read from its doc comment");
  const defaultCase = packageBodies.find((b) => b.name.startsWith("no model named"));
  assert.ok(defaultCase, "the default-model case captured a body");
  assert.equal(typeof defaultCase.body.model, "string", "a model is named (ImageGenerateParamsBase.model: 'Specify a model explicitly')");
  assert.ok(!retired.includes(defaultCase.body.model), `the package's default model ${defaultCase.body.model} is retired per openai@7.59.0`);
});

test("openai: a model the SDK calls shut down or retired is never called (not_found, no request)", async () => {
  for (const model of retiredPerSdk()) {
    const run = await viaPackage(capture, "openai", { model, request: { prompt: "a lighthouse" } });
    assert.equal(run.requests.length, 0, `${model}: the package sent ${run.requests.length} request(s)`);
    assert.equal(run.error?.code, "not_found", `${model}: ${run.error?.message ?? "resolved"}`);
    assert.match(run.error.message, /gpt-image-2/, "the message names the current default");
  }
});

test("openai: every allow-list entry for OpenAI was needed", () => {
  assertAllowListUsed("openai");
});
