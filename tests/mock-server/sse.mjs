// Server-sent events for the mock provider server: OpenAI's image streams
// (docs/providers.md section 9) with scripted previews, delays, mid-stream errors and cuts.

/** Generated PNGs have an exact size from this many bytes on (header, label and chunk framing). */
export const MIN_IMAGE_BYTES = 128;
export const MAX_IMAGE_BYTES = 256 * 1024 * 1024;

// A step's `stream` object (README: "Streams"). Every key is checked when the script is posted.
const STREAM_OPTIONS = {
  partials: (v) => Number.isInteger(v) && v >= 0 && v <= 10,
  eventDelayMs: (v) => isDelay(v),
  delaysMs: (v) => Array.isArray(v) && v.every(isDelay),
  previewBytes: (v) => Number.isInteger(v) && v >= MIN_IMAGE_BYTES && v <= MAX_IMAGE_BYTES,
  errorAfter: (v) => Number.isInteger(v) && v >= 0,
  errorBody: (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  errorFixture: (v) => typeof v === "string",
  cutAfter: (v) => Number.isInteger(v) && v >= 0,
  endAfter: (v) => Number.isInteger(v) && v >= 0,
  done: (v) => typeof v === "boolean",
};

function isDelay(v) {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= 10 * 60 * 1000;
}

/** Checks a step's `stream` object; returns a message or null. */
export function streamOptionsProblem(options, hasFixture) {
  if (typeof options !== "object" || options === null || Array.isArray(options)) return "stream must be an object";
  for (const [key, value] of Object.entries(options)) {
    const valid = STREAM_OPTIONS[key];
    if (!valid) return `unknown stream option ${key} (known: ${Object.keys(STREAM_OPTIONS).join(", ")})`;
    if (!valid(value)) return `stream.${key} has an invalid value`;
  }
  const faults = ["errorAfter", "cutAfter", "endAfter"].filter((k) => options[k] !== undefined);
  if (faults.length > 1) return `stream: at most one of errorAfter, cutAfter, endAfter (got ${faults.join(", ")})`;
  if (options.errorFixture !== undefined && !hasFixture(options.errorFixture)) return `unknown fixture: ${options.errorFixture}`;
  if ((options.errorBody !== undefined || options.errorFixture !== undefined) && options.errorAfter === undefined) {
    return "stream.errorBody / errorFixture need errorAfter";
  }
  return null;
}

export function sseEvent(event, data) {
  return `event: ${event}\ndata: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}

/** Resolves after `ms` (true), or early (false) when the response closes. */
function waitOrClose(ms, res, sleep) {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (!(ms > 0)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    res.once("close", onClose);
    sleep(ms).then(() => {
      res.off("close", onClose);
      resolve(!res.destroyed);
    });
  });
}

/**
 * Writes and waits until the text has been handed to the socket (so multi-megabyte previews
 * never pile up, and a cut after it still delivers it). False when the client went away.
 */
function write(res, text) {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    res.once("close", onClose);
    res.write(text, (error) => {
      res.off("close", onClose);
      resolve(!error && !res.destroyed);
    });
  });
}

/**
 * Streams `slots` (functions returning {event, data}: the previews, then the final event) as
 * text/event-stream. `fault` = {kind: "error"|"cut"|"end"|"malformed", at, data?} replaces slot
 * `at` (after that slot's delay): an `event: error` then the end, a connection reset, a clean
 * end, or that slot's event with its JSON cut in half then the end. `record` ({events, outcome})
 * is updated as events go out, so the request log shows what the client got.
 */
export async function writeEventStream(res, { headers, slots, fault, delayFor, done, sleep, record }) {
  record.events = [];
  record.outcome = "streaming";
  res.on("close", () => {
    if (record.outcome === "streaming") record.outcome = "client_closed";
  });
  res.writeHead(200, headers);
  res.flushHeaders();

  for (let slot = 0; slot < slots.length; slot++) {
    if (!(await waitOrClose(delayFor(slot), res, sleep))) return;
    if (fault && fault.at === slot) {
      if (fault.kind === "cut") {
        // Close the connection (after what was written went out) without the terminating chunk:
        // the client sees the body end abruptly, with no final event.
        record.outcome = "cut";
        res.socket?.destroy();
        return;
      }
      if (fault.kind === "end") {
        record.outcome = "ended";
        res.end();
        return;
      }
      if (fault.kind === "error") {
        record.outcome = "error";
        record.events.push("error");
        await write(res, sseEvent("error", fault.data));
        res.end();
        return;
      }
      if (fault.kind === "malformed") {
        const { event, data } = slots[slot]();
        const json = JSON.stringify(data);
        record.outcome = "malformed";
        record.events.push(event);
        await write(res, sseEvent(event, json.slice(0, Math.ceil(json.length / 2))));
        res.end();
        return;
      }
    }
    const { event, data } = slots[slot]();
    record.events.push(event);
    if (!(await write(res, sseEvent(event, data)))) return;
  }
  if (done) {
    record.events.push("[DONE]");
    await write(res, "data: [DONE]\n\n");
  }
  if (record.outcome === "streaming") record.outcome = "completed";
  res.end();
}
