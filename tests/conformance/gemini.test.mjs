// Gemini: each case of the table through the built package and through the official
// @google/genai SDK (and the AI SDK's @ai-sdk/google), pointed at the capture server; the
// requests must be the same up to the allow-list. Then the package's own request body is fed
// through both SDKs' request handling: @google/genai's Developer-API converter throws for
// fields the Gemini API does not take, and @ai-sdk/google strips the fields "the Gemini API
// rejects". A field either SDK refuses or drops fails the test.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { GoogleGenAI } from "@google/genai";
import { startCaptureServer } from "./capture.mjs";
import { GEMINI_CASES } from "./cases.mjs";
import { assertAllowListUsed, assertPackageCall, assertSameRequests, assertUnchanged } from "./harness.mjs";
import { throughAiSdkGoogle, throughGenAIConverter, viaAiSdkGoogle, viaGenAI, viaPackage } from "./oracles.mjs";

let capture;
before(async () => {
  capture = await startCaptureServer();
});
after(() => capture.close());

const modelOf = (request) => decodeURIComponent(/\/models\/([^/:]+):generateContent$/.exec(request.path)?.[1] ?? "");

for (const c of GEMINI_CASES) {
  describe(`gemini: ${c.name}`, () => {
    const calls = c.calls ?? 1;
    let pkg;
    before(async () => {
      pkg = await viaPackage(capture, "gemini", c);
    });

    test(`the package makes ${calls} call(s)`, () => {
      assertPackageCall(pkg, calls, c.warnings);
      assert.equal(pkg.result.images.length, c.request.count ?? 1);
    });

    test("same request as @google/genai's models.generateContent", async (t) => {
      const ref = await viaGenAI(capture, c.sdk, calls);
      const allowed = assertSameRequests(pkg, ref, { provider: "gemini", oracle: "genai", refName: "@google/genai@3.3.0" });
      t.diagnostic(`allowed: ${allowed.join(", ") || "nothing"}`);
    });

    test("@google/genai's Developer-API converter takes the package's body unchanged", async () => {
      assertPackageCall(pkg, calls);
      const request = pkg.requests[0];
      const out = await throughGenAIConverter(capture, modelOf(request), request.json);
      if (out.error) assert.fail(`@google/genai@3.3.0 refuses the package's request: ${out.error.message}`);
      assertUnchanged(request.json, out.body, "@google/genai@3.3.0's converter");
    });

    test("same request as the AI SDK's generateImage (@ai-sdk/google)", async (t) => {
      const ref = await viaAiSdkGoogle(capture, c.sdk, c.request.count ?? 1);
      const allowed = assertSameRequests(pkg, ref, { provider: "gemini", oracle: "ai-sdk", refName: "@ai-sdk/google@4.0.121" });
      t.diagnostic(`allowed: ${allowed.join(", ") || "nothing"}`);
    });

    test("@ai-sdk/google passes the package's body on unchanged", async () => {
      assertPackageCall(pkg, calls);
      const request = pkg.requests[0];
      const out = await throughAiSdkGoogle(capture, modelOf(request), request.json);
      if (out.error) assert.fail(`@ai-sdk/google@4.0.121 cannot send the package's request: ${out.error.message}`);
      assertUnchanged(request.json, out.requests[0].json, "@ai-sdk/google@4.0.121");
    });
  });
}

test("gemini: the converter check can fail: a Vertex-only field is refused", async () => {
  const body = {
    contents: [{ role: "user", parts: [{ text: "x" }] }],
    generationConfig: { responseModalities: ["IMAGE"], imageConfig: { aspectRatio: "1:1", personGeneration: "ALLOW_ADULT" } },
  };
  const out = await throughGenAIConverter(capture, "gemini-nano-banana-2.1", body);
  assert.match(out.error?.message ?? "", /personGeneration parameter is only supported in .* not in Gemini Developer API mode/);
  const stripped = await throughAiSdkGoogle(capture, "gemini-nano-banana-2.1", body);
  assert.equal(stripped.requests[0].json.generationConfig.imageConfig.personGeneration, undefined, "@ai-sdk/google strips it");
});

test("gemini: the converter check can fail: a misspelt field is dropped", async () => {
  const body = {
    contents: [{ role: "user", parts: [{ text: "x" }] }],
    generationConfig: { responseModalities: ["IMAGE"], imageConfig: { aspect_ratio: "16:9" } },
  };
  const out = await throughGenAIConverter(capture, "gemini-nano-banana-2.1", body);
  assert.ifError(out.error);
  assert.deepEqual(out.body.generationConfig.imageConfig, {}, "the converter only copies the fields it knows");
});

test("gemini: the API version in the path: the package's is @ai-sdk/google's (v1beta)", async (t) => {
  // The comparisons above set @google/genai to v1beta; its own default is reported here.
  const pkg = await viaPackage(capture, "gemini", { model: "gemini-nano-banana-2.1", request: { prompt: "x" } });
  const aisdk = await viaAiSdkGoogle(capture, { model: "gemini-nano-banana-2.1", contents: "x" });
  const genaiDefault = await capture.run("genai-sdk", (apiKey) =>
    new GoogleGenAI({ apiKey, httpOptions: { baseUrl: capture.url } }).models.generateContent({ model: "gemini-nano-banana-2.1", contents: "x" }),
  );
  const version = (run) => run.requests[0]?.path.split("/")[1];
  t.diagnostic(`package ${version(pkg)}, @ai-sdk/google ${version(aisdk)}, @google/genai default ${version(genaiDefault)}`);
  assert.equal(version(pkg), "v1beta");
  assert.equal(version(pkg), version(aisdk));
  assert.ok(["v1", "v1beta"].includes(version(genaiDefault)), "@google/genai calls the Developer API on v1 or v1beta");
});

test("gemini: every allow-list entry for Gemini was needed", () => {
  assertAllowListUsed("gemini");
});
