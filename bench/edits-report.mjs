// The markdown section of the edit benchmark (bench/edits.mjs), for bench/run.mjs.
import { fmt, table } from "./lib.mjs";

export function editsSection(e) {
  const lines = ["### Edits (Node): imagegen vs hand-written fetch + FormData vs Vercel AI SDK\n"];
  const mib = (e.inputBytes / 1048576).toFixed(e.inputBytes % 1048576 ? 2 : 0);
  lines.push(
    table(
      ["input images", "wall direct (ms)", "wall imagegen (ms)", "wall AI SDK (ms)", "wall imagegen / direct", "wall AI SDK / direct", "CPU direct (ms)", "CPU imagegen (ms)", "CPU AI SDK (ms)", "CPU imagegen / direct", "CPU AI SDK / direct"],
      Object.entries(e.counts).map(([n, c]) => [
        `${n} × ${mib} MiB`, fmt(c.direct.wallMs), fmt(c.imagegen.wallMs), fmt(c.aisdk.wallMs),
        fmt(c.imagegen.wallMs / c.direct.wallMs), fmt(c.aisdk.wallMs / c.direct.wallMs),
        fmt(c.direct.cpuMs), fmt(c.imagegen.cpuMs), fmt(c.aisdk.cpuMs),
        fmt(c.imagegen.cpuMs / c.direct.cpuMs), fmt(c.aisdk.cpuMs / c.direct.cpuMs),
      ]),
    ),
  );
  const runs = Object.values(e.counts)[0]?.direct.runs;
  lines.push(
    `\nOne edit per call to OpenAI's \`POST /v1/images/edits\` (multipart; the mock answers one small image), valid PNGs as \`Uint8Array\`s; "direct" is a hand-written \`fetch\` with a \`FormData\` of \`Blob\`s, the floor. Wall: medians of ${runs} interleaved runs per cell; CPU: this process's user+system time per call, mean (the mock server runs in another process). ` +
      `**imagegen's wasm memory** grew by **${e.wasmGrowthBytes} bytes** over its ${e.edits} edits (${e.inputs} inputs of ${mib} MiB, after a warm-up edit with a small input; now ${(e.wasmBytes / 1048576).toFixed(2)} MiB): the input bytes stay JS values; only the first 64 KiB of each input is read into wasm memory, to learn its format and size.\n`,
  );
  return lines.join("\n");
}
