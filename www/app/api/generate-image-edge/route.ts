// The same route on the Edge runtime, importing the package by name: its
// `edge-light` entry loads the wasm with `?module` and initialises it with
// top-level await.
import { generateImages } from "imagegen";
import { handleGenerate, serverInfo } from "@/lib/server/generate";

export const runtime = "edge";
export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  return handleGenerate(request, generateImages, "edge");
}

/** Which providers have a key on this server (names only, never keys). */
export function GET(): Response {
  return Response.json(serverInfo("edge"), { headers: { "cache-control": "no-store" } });
}
