// Development login for the Worker mode: signs a short-lived HS256 JWT
// (Supabase-shaped: sub, aud "authenticated", role, iat, exp) with JWT_SECRET
// from the server's environment, the secret the local Worker checks tokens
// with. Exists only when IMAGEGEN_DEV_LOGIN=1; answers 404 otherwise. A real
// app gets its tokens from its auth provider (e.g. Supabase) instead.
import { createHmac, randomBytes } from "node:crypto";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const TTL_SECONDS = 15 * 60;
const b64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

function notFound(): Response {
  return Response.json({ error: { code: "not_found", message: "not found" } }, { status: 404 });
}

export function POST(): Response {
  const secret = process.env.JWT_SECRET;
  if (process.env.IMAGEGEN_DEV_LOGIN !== "1" || !secret) return notFound();
  const now = Math.floor(Date.now() / 1000);
  // One throwaway user per login: the Worker keeps no state for it beyond its rate limit.
  const sub = `demo-${randomBytes(6).toString("hex")}`;
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(
    JSON.stringify({ sub, aud: "authenticated", role: "authenticated", iat: now, exp: now + TTL_SECONDS }),
  );
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return Response.json(
    { token: `${header}.${payload}.${signature}`, sub, expiresAt: (now + TTL_SECONDS) * 1000 },
    { headers: { "cache-control": "no-store" } },
  );
}
