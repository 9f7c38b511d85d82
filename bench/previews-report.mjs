// The markdown section of the previews benchmark (bench/previews.mjs), for bench/run.mjs.
import { fmt, table } from "./lib.mjs";

const check = (ok) => (ok ? "✅" : "❌");
const mib = (bytes) => `${(bytes / 1048576).toFixed(bytes % 1048576 ? 2 : 0)} MiB`;

export function previewsSection(p) {
  const lines = ["### Previews (Node): imagegen's streamed previews vs the official `openai` SDK's streaming\n"];
  lines.push(
    table(
      ["previews", "first preview openai (ms)", "first preview imagegen (ms)", "imagegen / openai", "final image openai (ms)", "final image imagegen (ms)", "imagegen / openai"],
      Object.entries(p.clients).map(([n, c]) => {
        const first = c.imagegen.firstPreviewMs / c.openai.firstPreviewMs;
        const final = c.imagegen.finalMs / c.openai.finalMs;
        return [
          n, fmt(c.openai.firstPreviewMs), fmt(c.imagegen.firstPreviewMs), `${fmt(first)} ${check(first <= 1.05)}`,
          fmt(c.openai.finalMs), fmt(c.imagegen.finalMs), `${fmt(final)} ${check(final <= 1.05)}`,
        ];
      }),
    ),
  );
  const runs = Object.values(p.clients)[0]?.openai.runs;
  const m = p.memory;
  lines.push(
    `\nOne streamed generation per call (\`generateImages({partialImages, onEvent})\` vs \`images.generate({stream: true, partial_images})\` iterated with \`for await\`), OpenAI's \`POST /v1/images/generations\` on the mock server, previews of ${mib(p.previewBytes)}, a final image of ${p.imageChars ? `~${(p.imageChars / 1e6).toFixed(1)} MB of base64` : "one pixel"}; times from the call to the first preview's event (imagegen's \`partial_image\`, the SDK's \`image_generation.partial_image\`) and to the final image's event (\`image\`, \`image_generation.completed\`). Medians of ${runs} interleaved runs per cell. Target: ≤ 1.05× on both.\n`,
  );
  lines.push(
    `**Memory**: over ${m.runs} streamed generations with 3 previews of ${mib(m.previewBytes)} each, imagegen's wasm linear memory grew by **${m.wasmGrowthBytes} bytes** (now ${(m.wasmBytes / 1048576).toFixed(2)} MiB; target: flat, at most one 64 KiB page ${check(m.wasmGrowthBytes <= 65536)}): the event stream is split and parsed in JS, previews never enter wasm memory.\n`,
  );
  lines.push("**Worker SSE relay** (workerd via Miniflare): time to the first byte of each event, through the Worker vs straight from the mock provider's stream\n");
  lines.push(
    table(
      ["gap before each event", "event", "direct (ms)", "through the Worker (ms)", "added (ms)", "Worker / direct"],
      p.relay.flatMap((r) =>
        r.events.map((name, i) => {
          const ratio = r.worker[i] / r.direct[i];
          return [`${r.eventGapMs} ms`, name, fmt(r.direct[i]), fmt(r.worker[i]), fmt(r.worker[i] - r.direct[i]), `${fmt(ratio)} ${check(ratio <= 1.05)}`];
        }),
      ),
    ),
  );
  lines.push(
    `\nThe same streamed request (\`"stream": true, "partial_images": 2\`; previews of ${mib(p.previewBytes)}, the final image as above) straight to the mock provider and to the Worker's \`/v1/images/generations\` (which verifies the JWT, reads and decrypts the stored key, then calls the same mock and relays its events); the mock waits the given gap before each event (OpenAI's events are seconds apart). Times from sending the request to the first byte of each event's \`event:\` line; medians of ${p.relay[0]?.runs} interleaved runs per gap. Target: ≤ 1.05×. "added" is what the Worker costs per event: its fixed work before the provider call, then the relay.\n`,
  );
  return lines.join("\n");
}
