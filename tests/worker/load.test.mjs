// The load test at a reduced size (the full run: node tests/worker/load.mjs).
import assert from "node:assert/strict";
import { test } from "node:test";
import { runLoad } from "./load.mjs";

test("under load with 10% provider faults every request gets images or a typed provider error; wasm memory stays flat", async () => {
  const r = await runLoad({ requests: 300, concurrency: 30, faultRate: 0.1, users: 5, rounds: 3 });
  assert.deepEqual(r.failures, [], "unexpected responses");
  const total = Object.values(r.statuses).reduce((a, b) => a + b, 0);
  assert.equal(total, 100 + 300 * 3);
  for (const status of Object.keys(r.statuses).map(Number)) {
    assert.ok([200, 429, 502, 504].includes(status), `status ${status}`);
  }
  assert.ok(r.images >= total * 0.9, `${r.images} images for ${total} requests`);
  const [, first, ...rest] = r.wasmMemoryBytesPerRound;
  const growth = rest.at(-1) - first;
  assert.ok(growth <= 1024 * 1024, `wasm memory grew by ${growth} bytes after the first round: ${r.wasmMemoryBytesPerRound}`);
  console.log(`load: ${total} requests, ${r.throughput.toFixed(0)} req/s, statuses ${JSON.stringify(r.statuses)}, wasm memory ${r.wasmMemoryBytesPerRound.join(" → ")} bytes`);
});

test("under load with links (response_format url) every image's link serves the provider's exact bytes", async () => {
  // The full size, one round (about 25 s on 2 cores; the script's default is 3 rounds:
  // node tests/worker/load.mjs --links); every link is fetched without a token.
  const r = await runLoad({ requests: 1000, concurrency: 50, faultRate: 0.1, users: 10, rounds: 1, links: true });
  assert.deepEqual(r.failures.slice(0, 5), [], `${r.failures.length} unexpected responses or links`);
  const total = Object.values(r.statuses).reduce((a, b) => a + b, 0);
  assert.equal(total, 100 + 1000);
  assert.ok(r.images >= total * 0.9, `${r.images} images for ${total} requests`);
  assert.equal(r.linksChecked, r.images, "every image came as a link that resolved");
  console.log(`load with links: ${total} requests, ${r.throughput.toFixed(0)} req/s, ${r.linksChecked} links fetched, statuses ${JSON.stringify(r.statuses)}`);
});
