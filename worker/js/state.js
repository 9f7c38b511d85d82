// UserState: the Durable Object of one user (binding USER_STATE, named by
// the SHA-256 of the user's `sub`). It holds what must be consistent across
// isolates and places: the rate-limit window, idempotency records, async
// jobs and the monthly budget's ledger. Each method runs its storage reads
// and writes without awaiting anything else in between, so two calls never
// interleave there: a check-then-claim is atomic. The rules (limits, how
// long a record lives, what a stored record means for a request, what a
// request may hold) come from the Rust caller (ratelimit.rs, idempotency.rs,
// routes/jobs.rs, usage/); the Worker's responses are built there too. Results stay JS strings here: images never enter wasm
// memory, and a job runs the Worker's own handler (serve.js).
import { DurableObject } from "cloudflare:workers";
import { serve } from "./serve.js";

// Largest value kept in the object's own storage (SQLite-backed objects
// take key and value up to 2 MB together); larger results go to R2.
const INLINE_BYTES = 1024 * 1024;
// How long a finished job is kept.
const JOB_TTL_MS = 24 * 60 * 60 * 1000;

const fits = (text) => text.length * 3 <= INLINE_BYTES || new TextEncoder().encode(text).length <= INLINE_BYTES;

export class UserState extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // Jobs this instance is running: one that is queued or running in
    // storage but not here was cut off by a restart.
    this.running = new Set();
  }

  // --- rate limit -------------------------------------------------------

  /** One request now, if fewer than `limit` in the last `windowMs`: {retryAfterS} when not. */
  async rateHit(limit, windowMs) {
    const now = Date.now();
    const times = ((await this.ctx.storage.get("rate")) ?? []).filter((t) => now - t < windowMs);
    if (times.length >= limit) {
      return { retryAfterS: Math.max(1, Math.ceil((times[0] + windowMs - now) / 1000)) };
    }
    times.push(now);
    // The answer need not wait for the write to be confirmed: a window lost
    // in a crash costs at most one minute's extra requests, never money.
    await this.ctx.storage.put("rate", times, { allowUnconfirmed: true });
    return {};
  }

  // --- idempotency --------------------------------------------------------

  /**
   * Claims `name` for a run (no record, an expired one, or a stale pending one with this
   * fingerprint): {claimed: true}. Otherwise the record, for the caller to decide:
   * {state, fp, at, body?} (body: the stored response's JSON text).
   */
  async idemBegin(name, fp, now, pendingMs, ttlMs) {
    const rec = await this.ctx.storage.get(name);
    const expired = rec && rec.state === "done" && now - rec.at >= ttlMs;
    const stale = rec && rec.state === "pending" && rec.fp === fp && now - rec.at >= pendingMs;
    if (!rec || expired || stale) {
      await this.ctx.storage.put(name, { state: "pending", fp, at: now });
      return { claimed: true };
    }
    let body = rec.body;
    if (body === undefined && rec.r2) body = await this.readR2(rec.r2);
    return { claimed: false, state: rec.state, fp: rec.fp, at: rec.at, body };
  }

  /**
   * The run produced `text` (paid for): kept here, or in R2 under `r2Key` when too big;
   * when neither works (or no text was sent: too big to send) the key is still marked done
   * (a replay gets 410). Returns where it went.
   */
  async idemDone(name, fp, at, text, r2Key, ttlMs) {
    const rec = { state: "done", fp, at };
    let kept = "none";
    if (typeof text !== "string") {
      kept = "none";
    } else if (fits(text)) {
      rec.body = text;
      kept = "inline";
    } else if (await this.writeR2(r2Key, text)) {
      rec.r2 = r2Key;
      kept = "r2";
    }
    await this.ctx.storage.put(name, rec);
    await this.sweepLater(ttlMs);
    return kept;
  }

  /** Nothing was produced: the key is free again. */
  async idemFailed(name) {
    await this.ctx.storage.delete(name);
  }

  // --- monthly budget ----------------------------------------------------------

  /**
   * Holds up to `wantUsd` for request `id`: all of it, or what is left of `budgetUsd` this
   * `month` (null: no budget; the hold then only keeps the ledger whole). Refused when
   * nothing is left: {refused: true, leftUsd, spentUsd}; else {grantedUsd}. Check and hold
   * are one step: requests in flight together never hold more than the budget.
   */
  async budgetReserve(month, id, wantUsd, budgetUsd, now, holdTtlMs) {
    const { holds, ledger } = await this.budgetState(month, now, holdTtlMs);
    let granted = wantUsd;
    if (budgetUsd !== null) {
      const spent = spentOf(ledger);
      const left = budgetUsd - spent - sum(holds);
      if (left <= 1e-12) return { refused: true, leftUsd: Math.max(0, left), spentUsd: spent };
      granted = Math.min(wantUsd, left);
    }
    holds.push({ id, usd: granted, at: now });
    await this.ctx.storage.put({ holds, [`usage:${month}`]: ledger });
    return { grantedUsd: granted };
  }

  /**
   * Replaces request `id`'s hold by its `charges` ([{provider, model, images, calls, costUsd,
   * unknown}], priced by the Worker), counted in `month`. A hold that already expired was
   * counted at its full amount: its charges are not counted again.
   */
  async budgetSettle(month, id, charges, now, holdTtlMs) {
    const { holds, ledger } = await this.budgetState(month, now, holdTtlMs);
    const i = holds.findIndex((h) => h.id === id);
    if (i >= 0) {
      holds.splice(i, 1);
      for (const c of charges) addCharge(ledger, c);
    }
    await this.ctx.storage.put({ holds, [`usage:${month}`]: ledger });
  }

  /**
   * The ledger of `month`: {month, rows, unsettledUsd, heldUsd} (holds in flight now). Expired
   * holds are counted only into the `current` month, never into an earlier one read back.
   */
  async budgetGet(month, now, holdTtlMs, current = true) {
    const { holds, ledger, expired } = await this.budgetState(month, now, current ? holdTtlMs : Infinity);
    if (expired) await this.ctx.storage.put({ holds, [`usage:${month}`]: ledger });
    return { ...ledger, heldUsd: sum(holds) };
  }

  /** The holds and the ledger of `month`; holds older than `holdTtlMs` are moved into it as spent. */
  async budgetState(month, now, holdTtlMs) {
    const key = `usage:${month}`;
    const got = await this.ctx.storage.get(["holds", key]);
    const ledger = got.get(key) ?? { month, rows: [], unsettledUsd: 0 };
    const holds = [];
    let expired = false;
    for (const h of got.get("holds") ?? []) {
      if (now - h.at < holdTtlMs) holds.push(h);
      else {
        // Never settled (its run was cut off with its isolate): counted at its hold.
        ledger.unsettledUsd += h.usd;
        expired = true;
      }
    }
    return { holds, ledger, expired };
  }

  // --- jobs -----------------------------------------------------------------

  /**
   * Starts a job for `request` (a generation or an edit, already authenticated and counted
   * against the rate limit by the Worker) and answers at once; the job runs on here, whatever
   * the client does.
   */
  async startJob(request, kind, r2Prefix) {
    const id = `job_${crypto.randomUUID().replaceAll("-", "")}`;
    const body = await request.arrayBuffer();
    const headers = new Headers(request.headers);
    headers.delete("prefer");
    const job = { id, object: "imagegen.job", kind, status: "queued", created_at: Math.floor(Date.now() / 1000) };
    await this.ctx.storage.put(`job:${id}`, job);
    this.running.add(id);
    const run = this.runJob(job, new Request(request.url, { method: "POST", headers, body }), r2Prefix);
    this.ctx.waitUntil(run);
    await this.sweepLater(JOB_TTL_MS);
    return job;
  }

  async runJob(job, request, r2Prefix) {
    await this.ctx.storage.put(`job:${job.id}`, { ...job, status: "running" });
    let done;
    try {
      const ctx = { waitUntil: (p) => this.ctx.waitUntil(p), imagegenJob: true };
      const response = await serve(request, this.env, ctx);
      const text = await response.text();
      done = response.ok ? await this.jobResult(job, text, `${r2Prefix}${job.id}`) : jobError(job, text);
    } catch {
      done = jobError(job, "");
    }
    done.completed_at = Math.floor(Date.now() / 1000);
    await this.ctx.storage.put(`job:${job.id}`, done);
    this.running.delete(job.id);
  }

  async jobResult(job, text, r2Key) {
    if (fits(text)) return { ...job, status: "succeeded", result: text };
    if (await this.writeR2(r2Key, text)) return { ...job, status: "succeeded", r2: r2Key };
    return jobError(job, JSON.stringify({ error: RESULT_LOST }));
  }

  /** The job as the API shows it (result and error parsed), or null. */
  async getJob(id) {
    let job = await this.ctx.storage.get(`job:${id}`);
    if (!job) return null;
    if ((job.status === "queued" || job.status === "running") && !this.running.has(id)) {
      job = { ...jobError(job, JSON.stringify({ error: INTERRUPTED })), completed_at: Math.floor(Date.now() / 1000) };
      await this.ctx.storage.put(`job:${id}`, job);
    }
    const { r2, result, ...view } = job;
    const text = result ?? (r2 ? await this.readR2(r2) : undefined);
    if (text !== undefined) view.result = JSON.parse(text);
    else if (job.status === "succeeded") view.error = RESULT_GONE;
    return view;
  }

  // --- storage helpers --------------------------------------------------------

  async writeR2(key, text) {
    if (!this.env.IMAGES) return false;
    try {
      await this.env.IMAGES.put(key, text, { httpMetadata: { contentType: "application/json" } });
      return true;
    } catch {
      console.warn("a result could not be written to R2");
      return false;
    }
  }

  async readR2(key) {
    try {
      const object = await this.env.IMAGES?.get(key);
      return object ? await object.text() : undefined;
    } catch {
      return undefined;
    }
  }

  /** Schedules the sweep of expired records if none is scheduled. */
  async sweepLater(afterMs) {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + afterMs);
  }

  /** Deletes expired idempotency records and jobs (R2 objects expire by the bucket's lifecycle rule). */
  async alarm() {
    const now = Date.now();
    let left = 0;
    for (const [name, rec] of await this.ctx.storage.list({ prefix: "idem:" })) {
      if (now - rec.at >= JOB_TTL_MS) await this.ctx.storage.delete(name);
      else left++;
    }
    for (const [name, job] of await this.ctx.storage.list({ prefix: "job:" })) {
      if (now - job.created_at * 1000 >= JOB_TTL_MS && !this.running.has(job.id)) await this.ctx.storage.delete(name);
      else left++;
    }
    if (left > 0) await this.ctx.storage.setAlarm(now + JOB_TTL_MS);
  }
}

const sum = (holds) => holds.reduce((t, h) => t + h.usd, 0);
const spentOf = (ledger) => ledger.rows.reduce((t, r) => t + r.costUsd, 0) + ledger.unsettledUsd;

function addCharge(ledger, c) {
  let row = ledger.rows.find((r) => r.provider === c.provider && r.model === c.model);
  if (!row) {
    row = { provider: c.provider, model: c.model, images: 0, calls: 0, costUsd: 0, unknownCalls: 0 };
    ledger.rows.push(row);
  }
  row.images += c.images;
  row.calls += c.calls;
  row.costUsd += c.costUsd;
  if (c.unknown) row.unknownCalls += 1;
}

const serverError = (code, message) => ({ message, type: "server_error", code, param: null });
const INTERRUPTED = serverError("job_interrupted", "the job was cut off by a restart of its runner; start it again");
const RESULT_LOST = serverError("result_not_kept", "the job's result could not be stored; start it again");
const RESULT_GONE = serverError("result_expired", "the job's result is no longer kept");

/** A failed job: the error of the Worker's error response (our usual shape). */
function jobError(job, text) {
  let error;
  try {
    error = JSON.parse(text).error;
  } catch {
    error = undefined;
  }
  return { ...job, status: "failed", error: error ?? serverError("internal", "internal error") };
}
