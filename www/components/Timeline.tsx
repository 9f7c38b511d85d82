"use client";

import { useEffect, useRef } from "react";
import type { EntryKind, TimelineState } from "@/lib/client/timeline";

const ICONS: Record<EntryKind, string> = {
  start: "▶",
  ok: "✓",
  fail: "✗",
  skip: "⊘",
  retry: "↻",
  fallback: "⇢",
  preview: "◐",
  image: "▣",
  note: "•",
};

export function Timeline({ state, running }: { state: TimelineState; running: boolean }) {
  const list = useRef<HTMLOListElement>(null);
  const count = state.entries.length;
  useEffect(() => {
    // Keep the latest event in view while a run is going.
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [count]);

  if (count === 0) {
    return <p className="empty">{running ? "Waiting for the first event…" : "Nothing yet: events appear here live."}</p>;
  }
  const parts = new Set(state.entries.map((e) => e.part).filter((p) => p !== undefined));
  const n = (kind: EntryKind) => state.entries.filter((e) => e.kind === kind).length;
  const attempts = n("ok") + n("fail");
  const retries = n("retry");
  const fallbacks = n("fallback");
  const skips = n("skip");
  const previews = n("preview");
  const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
  return (
    <>
      <p className="summary" data-testid="summary">
        {plural(attempts, "attempt")} · {plural(retries, "retry").replace("retrys", "retries")} ·{" "}
        {plural(fallbacks, "fallback")}
        {skips > 0 ? ` · ${skips} skipped` : ""}
        {previews > 0 ? ` · ${plural(previews, "preview")}` : ""}
        {parts.size > 1 ? ` · ${parts.size} parts` : ""}
      </p>
      <ol className="timeline" data-testid="timeline" ref={list}>
        {state.entries.map((e) => (
          <li key={e.id} className={`timeline__item timeline__item--${e.kind}`} data-kind={e.kind}>
            <span className="timeline__time">+{(e.atMs / 1000).toFixed(2)} s</span>
            <span className="timeline__icon" aria-hidden="true">
              {ICONS[e.kind]}
            </span>
            <span className="timeline__text">
              {parts.size > 1 && e.part !== undefined && <span className="timeline__part">part {e.part}</span>}
              {e.text}
            </span>
          </li>
        ))}
      </ol>
    </>
  );
}
