// The allow-list's own rules (README.md next to this file): every entry has a kind of the
// four, a reason, and where a fact is claimed its source; the package's own defaults are
// documented in the repository's README.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ALLOWED } from "./allow-list.mjs";

const readme = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "../../README.md"), "utf8");

test("every allow-list entry has one of the four kinds, providers, a reason; api defaults cite a source", () => {
  const ids = new Set();
  for (const e of ALLOWED) {
    assert.ok(!ids.has(e.id), `duplicate id ${e.id}`);
    ids.add(e.id);
    assert.ok(["client", "transport", "api-default", "library-default"].includes(e.kind), `${e.id}: kind ${e.kind}`);
    assert.ok(Array.isArray(e.providers) && e.providers.length > 0, `${e.id}: providers`);
    assert.ok(typeof e.reason === "string" && e.reason.length > 20, `${e.id}: reason`);
    if (e.kind === "api-default" || e.kind === "library-default") {
      assert.ok(typeof e.source === "string" && e.source.length > 10, `${e.id}: source`);
      assert.equal(typeof e.when, "function", `${e.id}: a default is allowed for its exact value only`);
    }
  }
});

test("each of the package's own defaults on the allow-list is documented in README.md", () => {
  const own = ALLOWED.filter((e) => e.kind === "library-default");
  assert.ok(own.length > 0);
  for (const e of own) {
    assert.ok(e.readme instanceof RegExp, `${e.id}: readme pattern`);
    assert.match(readme, e.readme, `${e.id} is a default the README must document`);
  }
});
