// The Worker's month to date for the signed-in user (`GET /v1/usage`): what
// was spent, the monthly budget and what is left of it, per provider and model.
// The page asks only with a token it already holds (its first Worker run signs
// it in); this module never signs in itself.
import type { ProviderName } from "../protocol";
import type { WorkerError } from "./worker";

/** One row of `by_provider`. */
export interface UsageRow {
  provider: ProviderName;
  model: string;
  images: number;
  calls: number;
  /** USD; calls of unknown cost are in it at what they held (the Worker never counts them as 0). */
  cost_usd: number;
  /** Calls whose cost was unknown (cut off, or no price), counted in `cost_usd` at their hold. */
  unknown_calls: number;
}

/** `GET /v1/usage`'s answer (`object: "imagegen.usage"`). */
export interface WorkerUsage {
  object: "imagegen.usage";
  /** UTC `YYYY-MM`. */
  month: string;
  /** `null`: the user has no budget. */
  budget_usd: number | null;
  spent_usd: number;
  /** Held for requests still running (what they may cost). */
  held_usd: number;
  /** `null` without a budget. */
  left_usd: number | null;
  /** Part of `spent_usd`: holds of runs that were cut off, counted in full (absent from older Workers). */
  unsettled_usd?: number;
  by_provider: UsageRow[];
}

/** What the panel shows: no token yet, a request under way, the numbers, or why they are missing. */
export type UsageView =
  | { state: "signed-out" }
  | { state: "loading"; usage?: WorkerUsage }
  | { state: "ok"; usage: WorkerUsage }
  | { state: "error"; message: string; usage?: WorkerUsage };

/** The numbers a view still has (the last ones while a refresh is under way or failed). */
export const usageOf = (view: UsageView): WorkerUsage | undefined => ("usage" in view ? view.usage : undefined);

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const numberOrNull = (v: unknown) => v === null || isNumber(v);

/** Checks the answer's shape (a Worker of another version may answer differently). */
function isUsage(v: unknown): v is WorkerUsage {
  const u = v as Partial<WorkerUsage> | null;
  return (
    typeof u === "object" &&
    u !== null &&
    typeof u.month === "string" &&
    isNumber(u.spent_usd) &&
    numberOrNull(u.budget_usd) &&
    numberOrNull(u.left_usd) &&
    Array.isArray(u.by_provider)
  );
}

/** `GET /v1/usage` with the page's token; rejects with an Error whose message says what went wrong. */
export async function fetchUsage(workerUrl: string, token: string, signal: AbortSignal): Promise<WorkerUsage> {
  const url = `${workerUrl.replace(/\/+$/, "")}/v1/usage`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
  } catch (err) {
    if ((err as Error)?.name === "AbortError") throw err;
    throw new Error(`the Worker at ${workerUrl} did not answer`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new Error(`the Worker answered HTTP ${response.status} without JSON`);
  }
  const error = (body as { error?: WorkerError } | null)?.error;
  if (!response.ok || error) {
    throw new Error(error?.message ? `${error.message} (${error.code}, HTTP ${response.status})` : `HTTP ${response.status}`);
  }
  if (!isUsage(body)) throw new Error("the Worker's answer is not a month's usage");
  return body;
}
