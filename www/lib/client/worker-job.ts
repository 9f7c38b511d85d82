// Async jobs on the Worker (`Prefer: respond-async`): the Worker answers 202
// with the job's id at once and runs it in the user's Durable Object; the page
// polls `GET /v1/jobs/<id>`, reports each status it sees, and when the job has
// succeeded loads the result's images from their signed links (a job's result
// is always links).
import type { WorkerError, WorkerImage } from "./worker";

export type JobStatus = "queued" | "running" | "succeeded" | "failed";

/** An image of a job's result: a signed link instead of `b64_json`. */
export type LinkedImage = Omit<WorkerImage, "b64_json"> & { url?: string; b64_json?: string };

export interface WorkerJob {
  id: string;
  status: JobStatus;
  result?: { data?: LinkedImage[]; [field: string]: unknown };
  error?: WorkerError;
}

/** How often the job is polled. */
export const POLL_MS = 400;

/** Waits `ms`, or rejects with an AbortError when `signal` aborts first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const abort = () => {
      clearTimeout(timer);
      reject(new DOMException("aborted", "AbortError"));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
  });
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** The result's images with their bytes, fetched from their links (no JWT: the link is signed). */
export async function loadLinks(data: LinkedImage[], signal: AbortSignal): Promise<WorkerImage[]> {
  return Promise.all(
    data.map(async (d) => {
      if (d.b64_json !== undefined || d.url === undefined) return { ...d, b64_json: d.b64_json ?? "" } as WorkerImage;
      const response = await fetch(d.url, { signal });
      if (!response.ok) throw new Error(`a result link answered HTTP ${response.status}`);
      // The bytes are in hand: the page shows them, and does not load the link a second time.
      const { url: _loaded, ...image } = d;
      return { ...image, b64_json: base64(new Uint8Array(await response.arrayBuffer())) } as WorkerImage;
    }),
  );
}
