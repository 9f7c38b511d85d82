// Writes .dev.vars for `wrangler dev` (git-ignored): fresh random development
// secrets, provider base URLs pointing at the local mock provider server, the
// local web app's origins, and the development-only switches (the mock
// provider, memory figures on /healthz). None of these belong in production.
// Keeps an existing file's secrets so stored dev keys stay readable.
//   node scripts/dev-vars.mjs <mock server URL>     (DEV_VARS_FILE=<path> writes elsewhere)
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";

const mockUrl = process.argv[2] ?? "http://127.0.0.1:18931";
const file = process.env.DEV_VARS_FILE ?? new URL("../.dev.vars", import.meta.url);
const old = existsSync(file)
  ? Object.fromEntries(
      readFileSync(file, "utf8")
        .split("\n")
        .map((l) => l.match(/^([A-Z_]+)=(.*)$/))
        .filter(Boolean)
        .map((m) => [m[1], m[2].replace(/^(["'])(.*)\1$/, "$2")]),
    )
  : {};
const vars = {
  JWT_SECRET: old.JWT_SECRET ?? randomBytes(32).toString("base64url"),
  KEY_ENCRYPTION_KEYS: old.KEY_ENCRYPTION_KEYS ?? JSON.stringify({ dev1: randomBytes(32).toString("base64") }),
  KEY_ENCRYPTION_ACTIVE_KID: old.KEY_ENCRYPTION_ACTIVE_KID ?? "dev1",
  URL_SIGNING_KEY: old.URL_SIGNING_KEY ?? randomBytes(32).toString("base64url"),
  OPENAI_BASE_URL: mockUrl,
  GEMINI_BASE_URL: mockUrl,
  STABILITY_BASE_URL: mockUrl,
  ALLOWED_ORIGINS: "http://localhost:3000,http://127.0.0.1:3000",
  ENABLE_MOCK_PROVIDER: "true",
  EXPOSE_MEMORY_STATS: "true",
};
// dotenv: single quotes keep JSON's double quotes literally.
const quote = (v) => (v.includes('"') ? `'${v}'` : `"${v}"`);
writeFileSync(file, Object.entries(vars).map(([k, v]) => `${k}=${quote(v)}`).join("\n") + "\n", { mode: 0o600 });
console.log(`wrote .dev.vars (providers → ${mockUrl})`);
