// The page's four ways of generating: the Node route, the Edge route (both
// streamed as NDJSON), the package itself in the browser, and the Worker.
// Each resolves with the same RunResult or rejects with a RunError.
import { readLines, type Body } from "./lines";
import {
  readWorkerStream,
  toAttempt,
  toImage,
  toUsage,
  type WorkerAttempt,
  type WorkerCost,
  type WorkerError,
  type WorkerImage,
} from "./worker";
import { loadLinks, pause, POLL_MS, type JobStatus, type WorkerJob } from "./worker-job";
import {
  NDJSON,
  type Attempt,
  type ErrorBody,
  type ErrorCode,
  type ErrorInfo,
  type GenerateBody,
  type GenerateEvent,
  type Usage,
  type GeneratedImage,
  type PreviewCount,
  type ProviderName,
  type StreamLine,
  type Warning,
} from "../protocol";

export interface RunResult {
  images: GeneratedImage[];
  attempts: Attempt[];
  warnings: Warning[];
  errors: ErrorInfo[];
  /** What the call cost; absent when the answer did not say. */
  usage?: Usage;
  /** performance.now() when the attempts' clock started (the Worker's `started_at_ms` count from its request). */
  attemptsClockStart?: number;
  /** The progress events came live (a stream), so the timeline already shows the attempts. */
  liveEvents?: boolean;
}

export interface ErrorView {
  code: ErrorCode | string;
  message: string;
  provider?: string;
  retryable: boolean;
  /** The provider's HTTP status, if any. */
  status?: number;
  /** The HTTP status our route or the Worker answered with, if any. */
  httpStatus?: number;
  param?: string;
  attempts: number;
  /** The attempts log, when the error carried one (to mark skipped entries in the timeline). */
  attemptList?: Attempt[];
}

export class RunError extends Error {
  constructor(readonly view: ErrorView) {
    super(view.message);
  }
}

export interface RunOptions {
  signal: AbortSignal;
  onEvent: (event: GenerateEvent) => void;
  /** Progress notes that are not library events (e.g. "wasm loaded"). */
  onNote: (text: string) => void;
}

function abortedError(): RunError {
  return new RunError({ code: "aborted", message: "cancelled", retryable: false, attempts: 0 });
}

function networkError(err: unknown, what: string): RunError {
  if ((err as Error)?.name === "AbortError") return abortedError();
  return new RunError({
    code: "network",
    message: `${what}: ${(err as Error)?.message ?? String(err)}`,
    retryable: true,
    attempts: 0,
  });
}

function fromErrorBody(body: ErrorBody["error"], httpStatus: number): RunError {
  return new RunError({
    code: body.code,
    message: body.message,
    provider: body.provider,
    retryable: body.retryable,
    status: body.status,
    httpStatus,
    param: body.param,
    attempts: body.attempts?.length ?? 0,
    attemptList: body.attempts,
  });
}

// ---------------------------------------------------------------------------------------------
// (a), (b) The server routes, streamed
// ---------------------------------------------------------------------------------------------

export async function runServer(url: string, body: GenerateBody, opts: RunOptions): Promise<RunResult> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: NDJSON },
      body: JSON.stringify(body),
      signal: opts.signal,
    });
  } catch (err) {
    throw networkError(err, "the server did not answer");
  }
  const type = response.headers.get("content-type") ?? "";
  if (!response.ok || !type.startsWith(NDJSON) || !response.body) {
    // Validation errors come back before streaming starts, as plain JSON.
    let parsed: ErrorBody | undefined;
    try {
      parsed = (await response.json()) as ErrorBody;
    } catch {
      // not JSON
    }
    if (parsed?.error) throw fromErrorBody(parsed.error, response.status);
    throw new RunError({
      code: "bad_response",
      message: `unexpected answer from ${url}: HTTP ${response.status} ${type}`,
      retryable: false,
      httpStatus: response.status,
      attempts: 0,
    });
  }

  const images: GeneratedImage[] = [];
  const handle = (line: string): RunResult | undefined => {
    if (!line.trim()) return undefined;
    const msg = JSON.parse(line) as StreamLine;
    if ("event" in msg) {
      if (msg.event.type === "image") images[msg.event.index] = msg.event.image;
      opts.onEvent(msg.event);
      return undefined;
    }
    if ("result" in msg) {
      const got = images.filter(Boolean).length;
      if (got !== msg.result.imageCount) {
        throw new RunError({
          code: "bad_response",
          message: `the stream announced ${msg.result.imageCount} images but carried ${got}`,
          retryable: false,
          attempts: msg.result.attempts.length,
        });
      }
      const { attempts, warnings, errors, usage } = msg.result;
      return { images, attempts, warnings, errors, usage };
    }
    throw fromErrorBody(msg.error, msg.status);
  };
  // Set by the line handler (an object, so the compiler does not narrow it away).
  const end: { result?: RunResult } = {};
  try {
    await readLines(response.body, (line) => {
      end.result = handle(line);
      return end.result !== undefined;
    });
    if (end.result) return end.result;
  } catch (err) {
    if (err instanceof RunError) throw err;
    throw networkError(err, "the stream broke off");
  }
  throw new RunError({ code: "network", message: "the stream ended without a result", retryable: true, attempts: 0 });
}

// ---------------------------------------------------------------------------------------------
// (c) In the browser, bring your own key
// ---------------------------------------------------------------------------------------------

export interface ByokEntry {
  provider: ProviderName;
  /** The mock's label (its model id), or an optional model id for the others. */
  model: string;
  /** Typed by the visitor; lives in React state only. */
  apiKey: string;
}

type ImagegenModule = typeof import("imagegen");
let loading: Promise<ImagegenModule> | undefined;

/**
 * Loads the package on first use only, so the first page load carries no
 * wasm. `import("imagegen")` resolves the `browser` entry, which fetches and
 * compiles imagegen_bg.wasm (emitted by the bundler from its
 * `new URL("./imagegen_bg.wasm", import.meta.url)`) with top-level await:
 * when the import resolves, the exports are ready, no `init()` needed.
 */
export function loadImagegen(): Promise<ImagegenModule> {
  loading ??= import("imagegen").catch((err) => {
    loading = undefined;
    throw err;
  });
  return loading;
}

/** What the page sends in every mode; `images`/`mask` make it an edit. */
export interface RunBase {
  prompt: string;
  count: number;
  size?: string;
  aspectRatio?: string;
  images?: Blob[];
  mask?: Blob;
  /** Streamed previews per image (1..3); absent: none. */
  partialImages?: PreviewCount;
  /** Worker mode: run as an async job (`Prefer: respond-async`), polled until done; no previews. */
  asyncJob?: boolean;
  /** Worker only: images as signed links (`response_format: "url"`); not with previews (streams carry base64). */
  links?: boolean;
}

export async function runInBrowser(
  base: RunBase,
  providers: Array<{ provider: ProviderName; model?: string; apiKey?: string; params?: Record<string, unknown> }>,
  opts: RunOptions,
): Promise<RunResult> {
  const t0 = performance.now();
  const first = loading === undefined;
  let mod: ImagegenModule;
  try {
    mod = await loadImagegen();
  } catch (err) {
    throw networkError(err, "could not load the imagegen package");
  }
  if (first) opts.onNote(`package loaded (wasm) in ${Math.round(performance.now() - t0)} ms`);
  try {
    const result = await mod.generateImages({ ...base, providers, signal: opts.signal, onEvent: opts.onEvent });
    return result;
  } catch (err) {
    const e = err as Partial<import("imagegen").ImageGenError>;
    if (e?.name !== "ImageGenError") throw networkError(err, "generateImages failed");
    throw new RunError({
      code: e.code ?? "provider_error",
      message: e.message ?? "",
      provider: e.provider,
      retryable: Boolean(e.retryable),
      status: e.status,
      param: e.param,
      attempts: e.attempts?.length ?? 0,
      attemptList: e.attempts,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// (d) The Worker (OpenAI-compatible HTTP API)
// ---------------------------------------------------------------------------------------------

let devToken: { token: string; expiresAt: number } | undefined;

/** The dev JWT the page holds, if it has one that is not about to expire (no sign-in). */
export const heldDevToken = (): string | undefined =>
  devToken && devToken.expiresAt - Date.now() > 60_000 ? devToken.token : undefined;

/** A dev JWT from our /api/dev-login (kept in memory, renewed a minute before it expires). */
async function getDevToken(signal: AbortSignal): Promise<string> {
  const held = heldDevToken();
  if (held) return held;
  let response: Response;
  try {
    response = await fetch("/api/dev-login", { method: "POST", signal });
  } catch (err) {
    throw networkError(err, "dev login failed");
  }
  if (response.status === 404) {
    throw new RunError({
      code: "auth",
      message: "dev login is off: start the app with IMAGEGEN_DEV_LOGIN=1 and the Worker's JWT_SECRET",
      retryable: false,
      httpStatus: 404,
      attempts: 0,
    });
  }
  if (!response.ok) {
    throw new RunError({ code: "auth", message: `dev login failed: HTTP ${response.status}`, retryable: false, httpStatus: response.status, attempts: 0 });
  }
  devToken = (await response.json()) as { token: string; expiresAt: number };
  return devToken.token;
}

/** The stream fields the Worker takes (text in a form, JSON values in a body): previews and our progress events. */
function streamFields(base: RunBase): Record<string, string | number | boolean> {
  if (base.asyncJob) return {}; // a job's result is always links
  if (!base.partialImages) return base.links ? { response_format: "url" } : {};
  return { stream: true, partial_images: base.partialImages, imagegen_progress: true };
}

/** An edit for the Worker: OpenAI's multipart form (`image`, `mask`, text fields). */
function editForm(base: RunBase, images: Blob[], model: string): FormData {
  const form = new FormData();
  form.set("prompt", base.prompt);
  form.set("n", String(base.count));
  form.set("model", model);
  if (base.size) form.set("size", base.size);
  if (base.aspectRatio) form.set("aspect_ratio", base.aspectRatio);
  for (const [name, value] of Object.entries(streamFields(base))) form.set(name, String(value));
  const ext = (b: Blob) => (b.type.split("/")[1] ?? "png").replace("jpeg", "jpg");
  images.forEach((img, i) => form.append(images.length === 1 ? "image" : "image[]", img, `image-${i + 1}.${ext(img)}`));
  if (base.mask) form.set("mask", base.mask, "mask.png");
  return form;
}

function generationBody(base: RunBase, model: string): string {
  return JSON.stringify({
    prompt: base.prompt,
    n: base.count,
    model,
    ...(base.size ? { size: base.size } : {}),
    ...(base.aspectRatio ? { aspect_ratio: base.aspectRatio } : {}),
    ...streamFields(base),
  });
}

function workerError(e: WorkerError | undefined, httpStatus: number | undefined, fallback: string): RunError {
  return new RunError({
    code: e?.code ?? "provider_error",
    message: e?.message ?? fallback,
    provider: e?.provider,
    retryable: Boolean(e?.retryable),
    httpStatus,
    param: e?.param ?? undefined,
    attempts: 0,
  });
}

interface WorkerBody {
  data?: WorkerImage[];
  attempts?: WorkerAttempt[];
  warnings?: Warning[];
  errors?: Array<Record<string, unknown>>;
  error?: WorkerError;
  cost_usd?: number | null;
  cost_by_provider?: WorkerCost[];
}

/** A response's JSON body, or a bad_response RunError. */
async function jsonOf<T>(response: Response): Promise<T> {
  try {
    return (await response.json()) as T;
  } catch {
    throw new RunError({ code: "bad_response", message: `the Worker answered HTTP ${response.status} without JSON`, retryable: false, httpStatus: response.status, attempts: 0 });
  }
}

/** A JSON answer (no stream asked for, or an error before the stream started). */
async function workerJson(response: Response, sentAt: number): Promise<RunResult> {
  const body = await jsonOf<WorkerBody>(response);
  if (response.status === 401) devToken = undefined;
  if (!response.ok || body.error) throw workerError(body.error, response.status, `HTTP ${response.status}`);
  return workerResult(body, sentAt);
}

function workerResult(body: WorkerBody, sentAt: number): RunResult {
  return {
    images: (body.data ?? []).map(toImage),
    attempts: (body.attempts ?? []).map(toAttempt),
    warnings: body.warnings ?? [],
    errors: (body.errors ?? []) as unknown as ErrorInfo[],
    usage: toUsage(body.cost_usd, body.cost_by_provider),
    attemptsClockStart: sentAt,
  };
}

/** The Worker's event stream: previews and progress as they come, then the result. */
async function workerStream(response: Response, sentAt: number, opts: RunOptions): Promise<RunResult> {
  let keepAlives = 0;
  let outcome;
  try {
    outcome = await readWorkerStream(response.body as Body, opts.onEvent, () => {
      if (++keepAlives === 1) opts.onNote("the Worker sent a keep-alive while the provider worked");
    });
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new RunError({ code: "bad_response", message: `the Worker sent an event that is not JSON: ${err.message}`, retryable: false, attempts: 0 });
    }
    throw networkError(err, "the Worker's stream broke off");
  }
  if (outcome.error) {
    // Images finished before the failure stay on screen; the error says what failed.
    if (outcome.images.length === 0) throw workerError(outcome.error, response.status, "the stream failed");
    outcome.errors = [...outcome.errors, { ...outcome.error, retryable: Boolean(outcome.error.retryable) } as unknown as ErrorInfo];
  }
  if (outcome.images.length === 0) {
    throw new RunError({ code: "bad_response", message: "the Worker's stream ended without an image", retryable: true, attempts: 0 });
  }
  return { ...outcome, attemptsClockStart: sentAt, liveEvents: true };
}

/**
 * An async job: the 202 answer names it; each status seen while polling becomes a note, then
 * the result's images are loaded from their links.
 */
async function workerJob(response: Response, workerUrl: string, token: string, sentAt: number, opts: RunOptions): Promise<RunResult> {
  const started = await jsonOf<WorkerJob & { error?: WorkerError }>(response);
  if (response.status !== 202) {
    if (response.status === 401) devToken = undefined;
    throw workerError(started.error, response.status, `HTTP ${response.status}`);
  }
  opts.onNote(`job ${started.id}: ${started.status} (202, polling ${response.headers.get("location") ?? "/v1/jobs/" + started.id})`);
  let last: JobStatus = started.status;
  for (;;) {
    try {
      await pause(POLL_MS, opts.signal);
      const polled = await fetch(`${workerUrl}/v1/jobs/${started.id}`, { headers: { authorization: `Bearer ${token}` }, signal: opts.signal });
      const job = await jsonOf<WorkerJob>(polled);
      if (!polled.ok) throw workerError(job.error, polled.status, `HTTP ${polled.status}`);
      if (job.status !== last) opts.onNote(`job ${job.id}: ${job.status}`);
      last = job.status;
      if (job.status === "failed") throw workerError(job.error, undefined, "the job failed");
      if (job.status === "succeeded") {
        const data = await loadLinks(job.result?.data ?? [], opts.signal);
        opts.onNote(`job ${job.id}: ${data.length} image(s) loaded from their links`);
        return workerResult({ ...(job.result as WorkerBody), data }, sentAt);
      }
    } catch (err) {
      if (err instanceof RunError) throw err;
      throw networkError(err, `polling job ${started.id} failed`);
    }
  }
}

export async function runWorker(workerUrl: string, model: string, base: RunBase, opts: RunOptions): Promise<RunResult> {
  const token = await getDevToken(opts.signal);
  opts.onNote("signed in with a dev JWT from /api/dev-login");
  const edit = base.images !== undefined && base.images.length > 0;
  const url = `${workerUrl.replace(/\/+$/, "")}/v1/images/${edit ? "edits" : "generations"}`;
  const sentAt = performance.now();
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      // A FormData body sets its own multipart content type.
      headers: {
        authorization: `Bearer ${token}`,
        ...(edit ? {} : { "content-type": "application/json" }),
        ...(base.asyncJob ? { prefer: "respond-async" } : {}),
      },
      body: edit ? editForm(base, base.images ?? [], model) : generationBody(base, model),
      signal: opts.signal,
    });
  } catch (err) {
    throw networkError(err, `the Worker at ${workerUrl} did not answer (is it running, and does its ALLOWED_ORIGINS include this page?)`);
  }
  if (base.asyncJob) return workerJob(response, workerUrl.replace(/\/+$/, ""), token, sentAt, opts);
  const streamed = response.ok && (response.headers.get("content-type") ?? "").startsWith("text/event-stream") && response.body;
  return streamed ? workerStream(response, sentAt, opts) : workerJson(response, sentAt);
}
