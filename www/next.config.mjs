import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

/** @type {import("next").NextConfig} */
const nextConfig = {
  // Node routes load the package from node_modules as it is: its `node` entry
  // reads imagegen_bg.wasm next to itself, which a bundled copy could not do.
  // (The Edge route and client components bundle it.)
  serverExternalPackages: ["imagegen"],
  // www/ is its own app (the repository root has another lockfile).
  turbopack: { root: here },
  outputFileTracingRoot: here,
  reactStrictMode: true,
  poweredByHeader: false,
};

export default nextConfig;
