// The Worker's answers in the page's terms: its snake_case attempts and images
// (JSON answers), and its OpenAI-format event stream (`"stream": true`):
// `image_generation.*` / `image_edit.*` events become the page's
// `partial_image` and `image` events, `imagegen.progress` events its progress
// events, an `error` event a RunError.
import type { Attempt, ErrorInfo, GenerateEvent, GeneratedImage, ProviderName, ShownImage, Usage, Warning } from "../protocol";
import type { Body } from "./lines";
import { readSse } from "./sse";

export interface WorkerAttempt {
  provider: ProviderName;
  model: string;
  part: number;
  attempt: number;
  started_at_ms: number;
  duration_ms: number;
  outcome: Attempt["outcome"];
  status?: number;
  retry_after_ms?: number;
  images: number;
  skipped?: boolean;
  cost_usd?: number;
}

/** One row of the Worker's `cost_by_provider`. */
export interface WorkerCost {
  provider: ProviderName;
  model: string;
  images: number;
  cost_usd: number | null;
}

/** The Worker's `cost_usd` and `cost_by_provider` as the package's `usage` (absent when it sent none). */
export function toUsage(costUsd: number | null | undefined, rows: WorkerCost[] | undefined): Usage | undefined {
  if (costUsd === undefined) return undefined;
  return {
    costUsd,
    byProvider: (rows ?? []).map((r) => ({ provider: r.provider, model: r.model, images: r.images, costUsd: r.cost_usd })),
  };
}

export interface WorkerImage {
  /** Absent when the image came as a link (`url`). */
  b64_json?: string;
  /** A signed link to the image (`response_format: "url"`). */
  url?: string;
  mime_type: string;
  provider: ProviderName;
  model: string;
  revised_prompt?: string;
}

export interface WorkerError {
  message: string;
  type: string;
  code: string;
  param: string | null;
  provider?: string;
  retryable?: boolean;
  status?: number;
}

export const toAttempt = (a: WorkerAttempt): Attempt => ({
  provider: a.provider,
  model: a.model,
  part: a.part,
  attempt: a.attempt,
  startedAtMs: a.started_at_ms,
  durationMs: a.duration_ms,
  outcome: a.outcome,
  status: a.status,
  retryAfterMs: a.retry_after_ms,
  images: a.images,
  ...(a.skipped ? { skipped: true } : {}),
  ...(a.cost_usd === undefined ? {} : { costUsd: a.cost_usd }),
});

export const toImage = (d: WorkerImage): ShownImage => ({
  mimeType: d.mime_type,
  base64: d.b64_json ?? "",
  ...(d.url ? { url: d.url } : {}),
  provider: d.provider,
  model: d.model,
  revisedPrompt: d.revised_prompt,
});

/** What a finished stream gives back (the last `imagegen.progress` event, stage `result`). */
export interface StreamOutcome {
  images: GeneratedImage[];
  attempts: Attempt[];
  warnings: Warning[];
  errors: ErrorInfo[];
  usage?: Usage;
  /** An `error` event ended the stream (after the images it names were sent). */
  error?: WorkerError;
}

/** `output_format` of an event → a MIME type. */
function mimeOf(format: unknown): string {
  const f = typeof format === "string" && format ? format : "png";
  return f === "svg" ? "image/svg+xml" : `image/${f === "jpg" ? "jpeg" : f}`;
}

type Data = Record<string, unknown>;
const num = (v: unknown, fallback: number) => (typeof v === "number" ? v : fallback);

/**
 * Which part a preview or an image belongs to: the events' `part` field when
 * the Worker sends it. OpenAI's event format names no part; without the field,
 * with progress events the parts that are running are known: a preview
 * with `partial_image_index` k goes to the first running part of the same
 * provider and model that has had k previews so far (parts stream their
 * previews in order), an image to the first such part. Without progress
 * events, parts are taken in order (one image per streamed part).
 */
class Parts {
  /** Running parts: who runs them and how many previews their attempt sent. */
  private running = new Map<number, { who: string; previews: number }>();
  private done = 0;

  progress(d: Data): void {
    const part = num(d.part, -1);
    if (d.stage === "attempt_start") this.running.set(part, { who: `${d.provider}/${d.model}`, previews: 0 });
    else if (d.stage === "attempt_end" && d.outcome !== "ok") this.running.delete(part);
  }

  private candidates(d: Data): Array<[number, { who: string; previews: number }]> {
    const who = `${d.provider}/${d.model}`;
    return [...this.running.entries()].filter(([, r]) => r.who === who).sort((a, b) => a[0] - b[0]);
  }

  preview(d: Data, index: number): number {
    // The Worker names the part in its events (`part`, our extension); the guess below is for Workers that do not.
    if (typeof d.part === "number") return d.part;
    const list = this.candidates(d);
    const found = list.find(([, r]) => r.previews === index) ?? list[0];
    if (!found) return this.done;
    found[1].previews++;
    return found[0];
  }

  image(d: Data): number {
    const found = this.candidates(d)[0];
    const part = typeof d.part === "number" ? d.part : found ? found[0] : this.done;
    this.running.delete(part);
    this.done++;
    return part;
  }
}

/** A progress event's data (snake_case, `stage` = the event type) → the page's event. */
function progressEvent(d: Data): GenerateEvent | undefined {
  const base = { provider: d.provider as ProviderName, part: num(d.part, 0) };
  switch (d.stage) {
    case "attempt_start":
      return { type: "attempt_start", ...base, model: String(d.model), attempt: num(d.attempt, 1) };
    case "attempt_end":
      return {
        type: "attempt_end",
        ...base,
        model: String(d.model),
        attempt: num(d.attempt, 1),
        outcome: d.outcome as Attempt["outcome"],
        ...(typeof d.status === "number" ? { status: d.status } : {}),
        durationMs: num(d.duration_ms, 0),
        ...(typeof d.cost_usd === "number" ? { costUsd: d.cost_usd } : {}),
      } as GenerateEvent;
    case "retry_scheduled":
      return { type: "retry_scheduled", ...base, attempt: num(d.attempt, 1), code: d.code, delayMs: num(d.delay_ms, 0) } as GenerateEvent;
    case "fallback":
      return { type: "fallback", part: base.part, from: d.from, to: d.to, code: d.code } as GenerateEvent;
    default:
      return undefined;
  }
}

/** Reads the Worker's event stream to its end, reporting each event as it comes. */
export async function readWorkerStream(
  body: Body,
  onEvent: (e: GenerateEvent) => void,
  onKeepAlive: () => void,
): Promise<StreamOutcome> {
  const out: StreamOutcome = { images: [], attempts: [], warnings: [], errors: [] };
  const parts = new Parts();
  await readSse(
    body,
    ({ event, data }) => {
      const d = JSON.parse(data) as Data;
      if (event === "error" || (d.error && typeof d.error === "object")) {
        out.error = d.error as WorkerError;
      } else if (event.endsWith(".partial_image")) {
        const image = { mimeType: mimeOf(d.output_format), base64: String(d.b64_json) };
        const index = num(d.partial_image_index, 0);
        const part = parts.preview(d, index);
        onEvent({ type: "partial_image", part, provider: d.provider as ProviderName, model: String(d.model), index, image });
      } else if (event.endsWith(".completed")) {
        const index = out.images.length;
        const image = toImage({ ...(d as unknown as WorkerImage), mime_type: mimeOf(d.output_format) });
        out.images.push(image);
        onEvent({ type: "image", part: parts.image(d), index, image });
      } else if (event === "imagegen.progress" && d.stage === "result") {
        out.attempts = ((d.attempts ?? []) as WorkerAttempt[]).map(toAttempt);
        out.warnings = (d.warnings ?? []) as Warning[];
        out.errors = (d.errors ?? []) as ErrorInfo[];
        out.usage = toUsage(d.cost_usd as number | null | undefined, d.cost_by_provider as WorkerCost[] | undefined);
      } else if (event === "imagegen.progress") {
        parts.progress(d);
        const e = progressEvent(d);
        if (e) onEvent(e);
      }
    },
    (comment) => {
      if (comment === "keep-alive") onKeepAlive();
    },
  );
  return out;
}
