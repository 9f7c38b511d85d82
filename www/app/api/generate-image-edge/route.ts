// The same route on the Edge runtime.
//
// Why not `import { generateImages } from "imagegen"` (the package's
// `edge-light` entry)? That entry does `initSync({ module: wasm })` with the
// `?module` import, and Next's edge sandbox (used by `next build` when it
// collects route config, and by `next start`) compiles `?module` wasm in the
// host realm while the route runs in a vm context: wasm-bindgen's
// `module instanceof WebAssembly.Module` check is then false, `initSync`
// passes the Module to `new WebAssembly.Module()` and the build fails with
// "WebAssembly.Module(): Argument 0 must be a buffer source". The async
// `init()` of `imagegen/web` hands the Module to `WebAssembly.instantiate`,
// which accepts a Module from another realm, so it works in the sandbox and
// on a real edge runtime alike.
import init, { generateImages } from "imagegen/web";
import wasm from "../../../node_modules/imagegen/imagegen_bg.wasm?module";
import { handleGenerate, serverInfo } from "@/lib/server/generate";

export const runtime = "edge";
export const dynamic = "force-dynamic";

let ready: Promise<unknown> | undefined;
const initialized = () => (ready ??= init({ module_or_path: wasm }));

export async function POST(request: Request): Promise<Response> {
  await initialized();
  return handleGenerate(request, generateImages, "edge");
}

/** Which providers have a key on this server (names only, never keys). */
export function GET(): Response {
  return Response.json(serverInfo("edge"), { headers: { "cache-control": "no-store" } });
}
