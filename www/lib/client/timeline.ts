// Turns the package's progress events into the page's attempts timeline.
import type { Attempt, GenerateEvent, Warning } from "../protocol";

export type EntryKind = "start" | "ok" | "fail" | "skip" | "retry" | "fallback" | "preview" | "image" | "note";

export interface TimelineEntry {
  id: number;
  /** ms since Generate was clicked. */
  atMs: number;
  kind: EntryKind;
  part?: number;
  text: string;
  /** `part|provider|model|attempt` of an attempt's end, to mark it skipped once the attempts log arrives. */
  attemptKey?: string;
}

const attemptKey = (a: { part: number; provider: string; model: string; attempt: number }) =>
  `${a.part}|${a.provider}|${a.model}|${a.attempt}`;

/** " · $0.0318" for a known cost, "" otherwise (the result's total says when it is unknown). */
export const costText = (usd: number | null | undefined) => (typeof usd === "number" ? ` · ${formatUsd(usd)}` : "");

/** "$0.0318", "$0": four decimals, trailing zeros dropped. */
export const formatUsd = (usd: number) => `$${Number(usd.toFixed(4))}`;

/** "mock/primary", "openai/gpt-image-2". */
export const who = (provider: string, model?: string) => (model ? `${provider}/${model}` : provider);

export interface TimelineState {
  entries: TimelineEntry[];
  /** Per part: provider/model of the latest attempt. */
  current: Record<number, string>;
  /** Per part: index of a fallback entry waiting for the name of its target. */
  pendingFallback: Record<number, number>;
  nextId: number;
}

export const emptyTimeline = (): TimelineState => ({ entries: [], current: {}, pendingFallback: {}, nextId: 1 });

function push(state: TimelineState, entry: Omit<TimelineEntry, "id">): TimelineState {
  return { ...state, entries: [...state.entries, { ...entry, id: state.nextId }], nextId: state.nextId + 1 };
}

export function addNote(state: TimelineState, atMs: number, text: string): TimelineState {
  return push(state, { atMs, kind: "note", text });
}

export function addEvent(state: TimelineState, atMs: number, e: GenerateEvent): TimelineState {
  switch (e.type) {
    case "attempt_start": {
      const name = who(e.provider, e.model);
      let next: TimelineState = { ...state, current: { ...state.current, [e.part]: name } };
      const pending = state.pendingFallback[e.part];
      if (pending !== undefined) {
        // Name the fallback's target now that its first attempt says which entry it is.
        const entries = next.entries.map((entry, i) =>
          i === pending ? { ...entry, text: entry.text.replace(/→ \S+/, `→ ${name}`) } : entry,
        );
        const pendingFallback = { ...next.pendingFallback };
        delete pendingFallback[e.part];
        next = { ...next, entries, pendingFallback };
      }
      return push(next, {
        atMs,
        kind: "start",
        part: e.part,
        attemptKey: attemptKey(e),
        text: `${name}: attempt ${e.attempt} started`,
      });
    }
    case "attempt_end": {
      const name = who(e.provider, e.model);
      const ok = e.outcome === "ok";
      const status = e.status ? ` (HTTP ${e.status})` : "";
      return push(state, {
        atMs,
        kind: ok ? "ok" : "fail",
        part: e.part,
        attemptKey: attemptKey(e),
        text: ok
          ? `${name}: attempt ${e.attempt} succeeded in ${e.durationMs} ms${costText(e.costUsd)}`
          : `${name}: attempt ${e.attempt} failed with ${e.outcome}${status} after ${e.durationMs} ms${costText(e.costUsd)}`,
      });
    }
    case "retry_scheduled": {
      const name = state.current[e.part] ?? e.provider;
      return push(state, {
        atMs,
        kind: "retry",
        part: e.part,
        text: `retry ${name} in ${e.delayMs} ms (attempt ${e.attempt} got ${e.code})`,
      });
    }
    case "fallback": {
      const from = state.current[e.part] ?? e.from;
      const next = push(state, {
        atMs,
        kind: "fallback",
        part: e.part,
        text: `fallback ${from} → ${e.to} after ${e.code}`,
      });
      return { ...next, pendingFallback: { ...next.pendingFallback, [e.part]: next.entries.length - 1 } };
    }
    case "partial_image":
      return push(state, {
        atMs,
        kind: "preview",
        part: e.part,
        text: `preview ${e.index + 1} from ${who(e.provider, e.model)}`,
      });
    case "image":
      return push(state, {
        atMs,
        kind: "image",
        part: e.part,
        text: `image ${e.index + 1} ready from ${who(e.image.provider, e.image.model)}`,
      });
  }
}

/** A timeline after the fact, from an attempts log (the Worker sends no live events). */
export function fromAttempts(
  state: TimelineState,
  attempts: Attempt[],
  offsetMs: number,
  warnings: Warning[] = [],
): TimelineState {
  let s = state;
  const sorted = [...attempts].sort((a, b) => a.startedAtMs - b.startedAtMs);
  for (const a of sorted) {
    const name = who(a.provider, a.model);
    if (a.skipped) {
      s = push(s, { atMs: offsetMs + a.startedAtMs, kind: "skip", part: a.part, text: skipText(a, warnings) });
      continue;
    }
    const ok = a.outcome === "ok";
    const status = a.status ? ` (HTTP ${a.status})` : "";
    s = push(s, {
      atMs: offsetMs + a.startedAtMs,
      kind: ok ? "ok" : "fail",
      part: a.part,
      text: ok
        ? `${name}: attempt ${a.attempt} made ${a.images} image${a.images === 1 ? "" : "s"} in ${a.durationMs} ms${costText(a.costUsd)}`
        : `${name}: attempt ${a.attempt} failed with ${a.outcome}${status} after ${a.durationMs} ms${costText(a.costUsd)}`,
    });
  }
  return s;
}

/** Why an entry was skipped: the warning naming it (`input_unsupported`, `model_deprecated`, …), if any. */
function skipReason(a: Attempt, warnings: Warning[]): string | undefined {
  const named = `${a.provider} (${a.model})`;
  const mine = warnings.filter((w) => w.provider === a.provider && w.message.includes("skipped"));
  const w = mine.find((w) => w.message.includes(named)) ?? mine[0];
  // "gemini (model): skipped, model cannot take a mask" → "model cannot take a mask".
  return w && `${w.code}: ${w.message.replace(`${named}: skipped, `, "")}`;
}

function skipText(a: Attempt, warnings: Warning[]): string {
  const reason = skipReason(a, warnings);
  return `${who(a.provider, a.model)}: skipped without a call (${a.outcome})${reason ? ` · ${reason}` : ""}`;
}

/**
 * Marks the attempts the log says were skipped (no HTTP call: inputs the entry
 * cannot take, a retired model, an open circuit): their live "failed" entries
 * become "skip" entries that say why.
 */
export function markSkipped(state: TimelineState, attempts: Attempt[], warnings: Warning[]): TimelineState {
  const skipped = new Map(attempts.filter((a) => a.skipped).map((a) => [attemptKey(a), a]));
  if (skipped.size === 0) return state;
  const entries = state.entries.flatMap((entry) => {
    const a = entry.attemptKey === undefined ? undefined : skipped.get(entry.attemptKey);
    if (!a) return [entry];
    // A skipped entry never started a call: its "started" line goes, its end says why.
    if (entry.kind === "start") return [];
    return [{ ...entry, kind: "skip" as const, text: skipText(a, warnings) }];
  });
  return { ...state, entries };
}
