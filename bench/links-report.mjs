// The markdown section of the links benchmark (bench/links.mjs), for bench/run.mjs.
import { fmt, table } from "./lib.mjs";

export function linksSection(l) {
  const b = l.formats.b64_json;
  const u = l.formats.url;
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const lines = ["### Links (workerd via Miniflare, local R2): 4 images as base64 vs as signed links\n"];
  lines.push(
    table(
      ["response_format", "response bytes", "client: response parsed (ms)", "client: all 4 images' bytes in hand (ms)"],
      [
        ["b64_json", kb(b.responseBytes), fmt(b.parsedMs), fmt(b.imagesMs)],
        ["url", kb(u.responseBytes), fmt(u.parsedMs), fmt(u.imagesMs)],
        ["url / b64_json", fmt(u.responseBytes / b.responseBytes, 5), fmt(u.parsedMs / b.parsedMs), fmt(u.imagesMs / b.imagesMs)],
      ],
    ),
  );
  lines.push(
    `\nOne \`POST /v1/images/generations\` with \`n: ${l.images}\` through the Worker; the mock answers ${(b.imageBytes / l.images / 1048576).toFixed(2)} MiB PNGs. Medians of ${b.runs} interleaved runs. "All images in hand": base64 decoded from the JSON, or the ${l.images} links fetched in parallel (no token) after the response. With links the JSON a client (a phone) must download and parse shrinks by orders of magnitude and the images can be fetched lazily, cached (ETag, \`cache-control: private\`) or handed to an \`<img>\`; fetching all of them at once costs the Worker's R2 writes on the request path plus a second round trip, on 127.0.0.1 where bandwidth is free, so the wall time of "all images" is the honest cost of links here, not their gain.\n`,
  );
  return lines.join("\n");
}
