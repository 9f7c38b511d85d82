"use client";

import { imageSrc, type ErrorInfo, type GeneratedImage, type Usage, type Warning } from "@/lib/protocol";
import type { ErrorView } from "@/lib/client/run";
import { slots, type PreviewState, type Slot } from "@/lib/client/previews";
import { formatUsd, type TimelineState } from "@/lib/client/timeline";
import { Timeline } from "./Timeline";

export type Status = "idle" | "running" | "done" | "error" | "cancelled";

export interface RunState {
  status: Status;
  timeline: TimelineState;
  images: GeneratedImage[];
  /** Per part, its latest streamed preview (until its final image arrives). */
  previews: PreviewState;
  warnings: Warning[];
  partialErrors: ErrorInfo[];
  /** What the call cost, when the answer said. */
  usage?: Usage;
  error?: ErrorView;
  totalMs?: number;
  firstImageMs?: number;
  firstPreviewMs?: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The right-hand column: status, errors and warnings, the timeline, the images (and previews). */
export function Results({
  run,
  prompt,
  onImageLoad,
  onPreviewLoad,
  aside,
}: {
  run: RunState;
  prompt: string;
  onImageLoad: () => void;
  onPreviewLoad: () => void;
  /** A panel shown under the status (the Worker mode's month to date). */
  aside?: React.ReactNode;
}) {
  const running = run.status === "running";
  const shownImages = run.images.filter(Boolean);
  return (
    <section
      className="results"
      aria-label="Results"
      data-status={run.status}
      data-first-image-ms={run.firstImageMs ?? ""}
      data-first-preview-ms={run.firstPreviewMs ?? ""}
      data-total-ms={run.totalMs ?? ""}
    >
      <div className="panel">
        <p className={`status status--${run.status}`} role="status" aria-live="polite" data-testid="status">
          {statusText(run, shownImages.length)}
        </p>
        {run.status === "done" && run.usage && (
          <p className="cost" data-testid="cost" data-cost-usd={run.usage.costUsd ?? "unknown"}>
            {costSummary(run.usage)}
          </p>
        )}
        {run.error && <ErrorPanel error={run.error} />}
        {run.partialErrors.length > 0 && (
          <div className="notice notice--warn" data-testid="partial-errors">
            <strong>Some parts failed:</strong>
            <ul>
              {run.partialErrors.map((e, i) => (
                <li key={i}>
                  part {e.part ?? "?"}: <code>{e.code}</code> {e.message}
                </li>
              ))}
            </ul>
          </div>
        )}
        {run.warnings.length > 0 && (
          <div className="notice" data-testid="warnings">
            <strong>Warnings:</strong>
            <ul>
              {run.warnings.map((w, i) => (
                <li key={i}>
                  {w.provider}: <code>{w.code}</code> {w.message}
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>

      {aside}

      <div className="panel">
        <h2>Attempts timeline</h2>
        <Timeline state={run.timeline} running={running} />
      </div>

      <div className="panel">
        <h2>Images</h2>
        <ImageList run={run} prompt={prompt} onImageLoad={onImageLoad} onPreviewLoad={onPreviewLoad} />
      </div>
    </section>
  );
}

function ImageList({
  run,
  prompt,
  onImageLoad,
  onPreviewLoad,
}: {
  run: RunState;
  prompt: string;
  onImageLoad: () => void;
  onPreviewLoad: () => void;
}) {
  const list = slots(run.images, run.previews);
  if (list.length === 0) {
    return <p className="empty">{run.status === "running" ? "Waiting for the first image…" : "No images yet."}</p>;
  }
  return (
    <ul className="images" data-testid="images">
      {list.map((slot) => (
        <SlotItem key={slot.key} slot={slot} prompt={prompt} onImageLoad={onImageLoad} onPreviewLoad={onPreviewLoad} />
      ))}
    </ul>
  );
}

/**
 * One image's slot. A preview and its final image render the same elements
 * (same key, same component), so the <img> stays and its blur fades out when
 * the final image's data arrives: the preview sharpens into the image.
 */
function SlotItem({
  slot,
  prompt,
  onImageLoad,
  onPreviewLoad,
}: {
  slot: Slot;
  prompt: string;
  onImageLoad: () => void;
  onPreviewLoad: () => void;
}) {
  if (slot.kind === "final") {
    const { image, index } = slot;
    return (
      <li className="slot" data-slot={slot.key}>
        {/* eslint-disable-next-line @next/next/no-img-element -- data: URLs or the Worker's links */}
        <img
          src={imageSrc(image)}
          alt={`Image ${index + 1} for “${prompt}” by ${image.provider}/${image.model}`}
          data-kind="final"
          onLoad={onImageLoad}
        />
        {null}
        <span className="caption">
          #{index + 1} · {image.provider}/{image.model}
          {image.seed !== undefined ? ` · seed ${image.seed}` : ""}
        </span>
      </li>
    );
  }
  const { preview } = slot;
  // Less blur with each preview; a failed attempt's preview is dimmed until the next attempt starts.
  const blur = Math.max(1, 6 - 2 * preview.index);
  const label = preview.stale ? "attempt failed" : `preview ${preview.index + 1}`;
  return (
    <li className="slot" data-slot={slot.key} data-testid="preview">
      {/* eslint-disable-next-line @next/next/no-img-element -- data: URLs of streamed previews */}
      <img
        src={preview.src}
        alt={`Preview ${preview.index + 1} of part ${preview.part} by ${preview.provider}/${preview.model}`}
        data-kind="preview"
        data-part={preview.part}
        data-preview-index={preview.index}
        data-stale={preview.stale ? "true" : "false"}
        style={{ "--preview-blur": `${blur}px` } as React.CSSProperties}
        onLoad={onPreviewLoad}
      />
      <span className="slot__badge">{label}</span>
      <span className="caption">
        part {preview.part} · {preview.provider}/{preview.model} · {label}
      </span>
    </li>
  );
}

/** "Cost: $0.0318 (openai/gpt-image-2 $0.0318)", or why it is unknown. */
function costSummary(usage: Usage): string {
  const rows = usage.byProvider
    .map((r) => `${r.provider}/${r.model} ${r.costUsd === null ? "unknown" : formatUsd(r.costUsd)}`)
    .join(", ");
  const total = usage.costUsd === null ? "unknown (a model without a price, or a call cut off)" : formatUsd(usage.costUsd);
  return `Cost: ${total}${rows ? ` (${rows})` : ""}`;
}

function statusText(run: RunState, images: number): string {
  switch (run.status) {
    case "idle":
      return "Ready. Pick where it runs, then Generate.";
    case "running": {
      const previews = Object.keys(run.previews).length;
      const got = images > 0 ? `${images} image${images === 1 ? "" : "s"} so far` : previews > 0 ? "previews arriving" : "";
      return `Generating… ${got}`.trim();
    }
    case "cancelled":
      return `Cancelled after ${seconds(run.totalMs ?? 0)}.`;
    case "error":
      return `Failed after ${seconds(run.totalMs ?? 0)}.`;
    case "done": {
      const preview = run.firstPreviewMs !== undefined ? ` · first preview after ${seconds(run.firstPreviewMs)}` : "";
      const first = run.firstImageMs !== undefined ? ` · first image on screen after ${seconds(run.firstImageMs)}` : "";
      return `${images} image${images === 1 ? "" : "s"} in ${seconds(run.totalMs ?? 0)}${preview}${first}`;
    }
  }
}

function ErrorPanel({ error }: { error: ErrorView }) {
  return (
    <div className="error" role="alert" data-testid="error" data-code={error.code}>
      <p className="error__title">
        <code>{error.code}</code> {error.message}
      </p>
      <dl>
        {error.provider && (
          <>
            <dt>Provider</dt>
            <dd data-testid="error-provider">{error.provider}</dd>
          </>
        )}
        <dt>Retryable</dt>
        <dd data-testid="error-retryable">{error.retryable ? "yes: may succeed if tried again later" : "no"}</dd>
        {error.httpStatus !== undefined && (
          <>
            <dt>HTTP status</dt>
            <dd>{error.httpStatus}</dd>
          </>
        )}
        {error.status !== undefined && (
          <>
            <dt>Provider status</dt>
            <dd>{error.status}</dd>
          </>
        )}
        {error.param && (
          <>
            <dt>Field</dt>
            <dd>
              <code>{error.param}</code>
            </dd>
          </>
        )}
        {error.attempts > 0 && (
          <>
            <dt>Attempts</dt>
            <dd>{error.attempts}</dd>
          </>
        )}
      </dl>
    </div>
  );
}
