// Stability has no official JS SDK: its documented multipart form (oracles.mjs, STABILITY_FORM,
// with the API reference cited) is the oracle. Each case of the table goes through the built
// package and, as the documentation writes it, through the platform's fetch + FormData; the
// requests must be the same up to the allow-list, and every field the package sends must be
// a documented field of that endpoint with a documented value.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startCaptureServer } from "./capture.mjs";
import { STABILITY_CASES } from "./cases.mjs";
import { assertAllowListUsed, assertPackageCall, assertSameRequests } from "./harness.mjs";
import { STABILITY_ACCEPT, stabilityFormProblems, viaPackage, viaStabilityForm } from "./oracles.mjs";

let capture;
before(async () => {
  capture = await startCaptureServer();
});
after(() => capture.close());

function formOf(request) {
  const fields = {};
  for (const part of request.parts) fields[part.name] = part.filename === undefined ? part.value : { file: part.filename };
  return fields;
}

for (const c of STABILITY_CASES) {
  describe(`stability: ${c.name}`, () => {
    const calls = c.calls ?? 1;
    let pkg;
    before(async () => {
      pkg = await viaPackage(capture, "stability", c);
    });

    test(`the package makes ${calls} call(s)`, () => {
      assertPackageCall(pkg, calls, c.warnings);
      assert.equal(pkg.result.images.length, c.request.count ?? 1);
    });

    test("every field and header the package sends is in the documented form", () => {
      assertPackageCall(pkg, calls);
      for (const request of pkg.requests) {
        assert.equal(request.method, "POST");
        assert.match(request.path, /^\/v2beta\/stable-image\/generate\/(core|ultra|sd3)$/);
        assert.equal(request.kind, "multipart", "a multipart/form-data body");
        assert.match(request.headers["content-type"], /^multipart\/form-data; boundary=\S+$/);
        assert.equal(request.headers.authorization, `Bearer ${pkg.key}`);
        assert.ok(STABILITY_ACCEPT.includes(request.headers.accept), `accept ${request.headers.accept} is one of ${STABILITY_ACCEPT}`);
        for (const part of request.parts) {
          // Text fields are plain form fields: no file name, no content type other than text/plain.
          assert.equal(part.filename, undefined, `${part.name} is a text field`);
          assert.ok(part.contentType === undefined || /^text\/plain\b/.test(part.contentType), `${part.name}: content type ${part.contentType}`);
        }
        const endpoint = request.path.split("/").at(-1);
        const problems = stabilityFormProblems(endpoint, formOf(request));
        assert.deepEqual(problems, [], `not in Stability's documented form for generate/${endpoint}:\n  ${problems.join("\n  ")}`);
      }
    });

    test("same request as Stability's documented form", async (t) => {
      const ref = await viaStabilityForm(capture, c.form, calls);
      const allowed = assertSameRequests(pkg, ref, { provider: "stability", oracle: "documented-form", refName: "the documented form" });
      t.diagnostic(`allowed: ${allowed.join(", ") || "nothing"}`);
    });
  });
}

test("stability: the form check can fail", () => {
  assert.deepEqual(stabilityFormProblems("core", { prompt: "x", cfg_scale: "7", aspect_ratio: "4:3", seed: "-1" }), [
    "cfg_scale: not a field of generate/core",
    'aspect_ratio: "4:3" is not one of 16:9 | 1:1 | 21:9 | 2:3 | 3:2 | 4:5 | 5:4 | 9:16 | 9:21',
    'seed: "-1" is not an integer',
    "seed: -1 is outside 0..4294967294",
  ]);
  assert.deepEqual(stabilityFormProblems("sd3", { prompt: "x", model: "sd3-large", cfg_scale: "12" }), [
    'model: "sd3-large" is not one of sd3.5-large | sd3.5-large-turbo | sd3.5-medium | sd3.5-flash',
    "cfg_scale: 12 is outside 1..10",
  ]);
});

test("stability: every allow-list entry for Stability was needed", () => {
  assertAllowListUsed("stability");
});
