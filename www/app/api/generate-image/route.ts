// Generation on the Node.js runtime. `imagegen` is in serverExternalPackages
// (next.config.mjs), so Node imports it from node_modules through its `node`
// entry, which compiles imagegen_bg.wasm read from next to itself.
import { generateImages } from "imagegen";
import { handleGenerate, serverInfo } from "@/lib/server/generate";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function POST(request: Request): Promise<Response> {
  return handleGenerate(request, generateImages, "nodejs");
}

/** Which providers have a key on this server (names only, never keys). */
export function GET(): Response {
  return Response.json(serverInfo("nodejs"), { headers: { "cache-control": "no-store" } });
}
