// Shared assertions of the request comparisons.

import assert from "node:assert/strict";
import { ALLOWED } from "./allow-list.mjs";
import { compareRequests, describe as describeDiff, jsonDiff } from "./compare.mjs";

/** Allow-list entries that some comparison in this process needed. */
const used = new Set();

/** Fails with `what` and the error's message when a side threw. */
export function assertRan(run, what) {
  if (run.error) assert.fail(`${what} failed: ${run.error.stack ?? run.error}`);
}

/** The package made `calls` requests and reported the expected warnings. */
export function assertPackageCall(run, calls, warnings = []) {
  assertRan(run, "the package's generateImages");
  assert.equal(run.requests.length, calls, `the package made ${run.requests.length} provider calls, expected ${calls}`);
  const messages = run.result.warnings.map((w) => w.message);
  for (const pattern of warnings) {
    assert.ok(messages.some((m) => pattern.test(m)), `no warning matching ${pattern} in ${JSON.stringify(messages)}`);
  }
}

/**
 * The package's requests equal the reference's, request by request, up to the allow-list.
 * ctx: {provider, oracle, refName}. Returns the allow-list entries that were needed.
 */
export function assertSameRequests(pkgRun, refRun, ctx) {
  assertRan(refRun, ctx.refName);
  assert.equal(refRun.requests.length, pkgRun.requests.length, `${ctx.refName} made ${refRun.requests.length} calls, the package ${pkgRun.requests.length}`);
  const lines = [];
  const allowedPaths = new Map(); // id → paths
  pkgRun.requests.forEach((pkg, i) => {
    const { unexpected, allowed } = compareRequests(pkg, refRun.requests[i], ctx);
    for (const a of allowed) {
      used.add(a.id);
      allowedPaths.set(a.id, new Set([...(allowedPaths.get(a.id) ?? []), a.path]));
    }
    lines.push(...unexpected.map((d) => describeDiff(d, ctx.refName)));
  });
  if (lines.length > 0) {
    assert.fail(`the package's request differs from ${ctx.refName}'s (not in allow-list.mjs):\n  ${[...new Set(lines)].join("\n  ")}`);
  }
  return [...allowedPaths].map(([id, paths]) => (paths.size > 2 ? `${id} (${paths.size} fields)` : `${id} (${[...paths].join(", ")})`));
}

/** A JSON body went through a converter unchanged (`through` names it). */
export function assertUnchanged(before, after, through) {
  const lines = jsonDiff(before, after, "body").map(
    (d) => `${d.path}: package ${JSON.stringify(d.a) ?? "(absent)"}, after ${through} ${JSON.stringify(d.b) ?? "(dropped)"}`,
  );
  if (lines.length > 0) assert.fail(`${through} changed the package's request body:\n  ${lines.join("\n  ")}`);
}

/** Every allow-list entry for `provider` was needed by some comparison (none is stale). */
export function assertAllowListUsed(provider) {
  const stale = ALLOWED.filter((e) => e.providers.includes(provider) && !used.has(e.id)).map((e) => e.id);
  assert.deepEqual(stale, [], `allow-list entries no ${provider} comparison needed (remove them): ${stale.join(", ")}`);
}
