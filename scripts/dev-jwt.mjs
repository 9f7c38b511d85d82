// Prints an HS256 development JWT (Supabase-shaped) signed with JWT_SECRET
// from .dev.vars, for `curl -H "Authorization: Bearer $(node scripts/dev-jwt.mjs)"`.
//   node scripts/dev-jwt.mjs [sub] [ttl seconds]
import { readFileSync } from "node:fs";
import { createHmac } from "node:crypto";

const sub = process.argv[2] ?? "dev-user";
const ttl = Number(process.argv[3] ?? 3600);
const env = readFileSync(new URL("../.dev.vars", import.meta.url), "utf8");
const secret = env.match(/^JWT_SECRET="?([^"\n]*)"?$/m)?.[1];
if (!secret) throw new Error("JWT_SECRET missing from .dev.vars (run scripts/dev-vars.mjs)");
const b64u = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const now = Math.floor(Date.now() / 1000);
const head = b64u({ alg: "HS256", typ: "JWT" });
const body = b64u({ sub, aud: "authenticated", role: "authenticated", iat: now, exp: now + ttl });
const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
process.stdout.write(`${head}.${body}.${sig}\n`);
