"use client";

import { useCallback, useEffect, useRef, useState } from "react";

/** The image to edit, as the page sends it: the file itself and its base64 (for the JSON routes). */
export interface EditSource {
  blob: Blob;
  name: string;
  base64: string;
  mimeType: string;
  width: number;
  height: number;
  /** Object URL of the preview (revoked when replaced). */
  url: string;
}

/** A painted mask: a PNG of the image's size, alpha 0 where painted, opaque elsewhere. */
export interface EditMask {
  blob: Blob;
  base64: string;
  mimeType: "image/png";
}

const ACCEPT = "image/png,image/jpeg,image/webp";

function readBase64(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function loadSource(file: File): Promise<EditSource> {
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return {
      blob: file,
      name: file.name,
      base64: await readBase64(file),
      mimeType: file.type || "application/octet-stream",
      width: img.naturalWidth,
      height: img.naturalHeight,
      url,
    };
  } catch (err) {
    URL.revokeObjectURL(url);
    throw err;
  }
}

/**
 * The painted strokes (any alpha > 0 on the paint canvas) become alpha 0 in the
 * mask; every other pixel is opaque black. Same size as the image.
 */
async function exportMask(paint: HTMLCanvasElement): Promise<EditMask | null> {
  const ctx = paint.getContext("2d");
  if (!ctx) return null;
  const painted = ctx.getImageData(0, 0, paint.width, paint.height);
  const out = new ImageData(paint.width, paint.height);
  let any = false;
  for (let i = 3; i < painted.data.length; i += 4) {
    const hit = painted.data[i] > 0;
    any ||= hit;
    out.data[i] = hit ? 0 : 255;
  }
  if (!any) return null;
  const canvas = document.createElement("canvas");
  canvas.width = paint.width;
  canvas.height = paint.height;
  canvas.getContext("2d")?.putImageData(out, 0, 0);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, "image/png"));
  if (!blob) return null;
  return { blob, base64: await readBase64(blob), mimeType: "image/png" };
}

export function EditImage({
  source,
  onSource,
  onMask,
  disabled,
}: {
  source: EditSource | null;
  onSource: (source: EditSource | null) => void;
  onMask: (mask: EditMask | null) => void;
  disabled: boolean;
}) {
  const [error, setError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const [brush, setBrush] = useState(8);
  const [painted, setPainted] = useState(false);
  const canvas = useRef<HTMLCanvasElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const last = useRef<{ x: number; y: number } | null>(null);

  useEffect(() => () => void (source && URL.revokeObjectURL(source.url)), [source]);

  const take = useCallback(
    async (file: File | undefined) => {
      if (!file) return;
      setError(null);
      try {
        onSource(await loadSource(file));
        onMask(null);
        setPainted(false);
      } catch {
        setError(`${file.name} is not an image this browser can read`);
      }
    },
    [onSource, onMask],
  );

  const clear = useCallback(() => {
    const c = canvas.current;
    c?.getContext("2d")?.clearRect(0, 0, c.width, c.height);
    setPainted(false);
    onMask(null);
  }, [onMask]);

  const remove = useCallback(() => {
    onSource(null);
    onMask(null);
    setPainted(false);
    if (fileInput.current) fileInput.current.value = "";
  }, [onSource, onMask]);

  /** Pointer position in image pixels. */
  const at = (e: React.PointerEvent<HTMLCanvasElement>) => {
    const c = e.currentTarget;
    const r = c.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * c.width) / r.width, y: ((e.clientY - r.top) * c.height) / r.height };
  };
  const stroke = (c: HTMLCanvasElement, from: { x: number; y: number }, to: { x: number; y: number }) => {
    const ctx = c.getContext("2d");
    if (!ctx) return;
    // Brush in % of the image's longer side, so it looks the same at any size.
    ctx.lineWidth = (Math.max(c.width, c.height) * brush) / 100;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#ff2d55";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  };

  return (
    <section className="group" aria-labelledby="edit-heading">
      <h2 id="edit-heading">Edit an image (optional)</h2>
      <div
        className={`dropzone ${dragging ? "dropzone--over" : ""}`}
        data-testid="dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          if (!disabled) void take(e.dataTransfer.files[0]);
        }}
      >
        <label htmlFor="edit-image">Image to edit</label>
        <input
          id="edit-image"
          ref={fileInput}
          type="file"
          accept={ACCEPT}
          disabled={disabled}
          onChange={(e) => void take(e.target.files?.[0])}
        />
        <p className="hint">PNG, JPEG or WebP: choose a file or drop it here. Without one, the prompt generates new images.</p>
      </div>
      {error && <p className="notice notice--warn">{error}</p>}
      {source && (
        <>
          <p className="hint" data-testid="edit-source">
            {source.name} · {source.width}×{source.height} · {painted ? "mask painted: the red area changes" : "paint on the image to mask the area to change (optional)"}
          </p>
          <div className="paint" style={{ aspectRatio: `${source.width} / ${source.height}` }}>
            {/* eslint-disable-next-line @next/next/no-img-element -- a local object URL */}
            <img src={source.url} alt={`Image to edit: ${source.name}`} />
            <canvas
              key={source.url}
              ref={canvas}
              width={source.width}
              height={source.height}
              aria-label="Mask: paint the area to change"
              data-testid="mask-canvas"
              onPointerDown={(e) => {
                if (disabled) return;
                e.currentTarget.setPointerCapture(e.pointerId);
                const p = at(e);
                last.current = p;
                stroke(e.currentTarget, p, p);
              }}
              onPointerMove={(e) => {
                if (!last.current) return;
                const p = at(e);
                stroke(e.currentTarget, last.current, p);
                last.current = p;
              }}
              onPointerUp={(e) => {
                if (!last.current) return;
                last.current = null;
                setPainted(true);
                void exportMask(e.currentTarget).then(onMask);
              }}
            />
          </div>
          <div className="row">
            <div className="field grow">
              <label htmlFor="brush">
                Brush: <output htmlFor="brush">{brush}%</output>
              </label>
              <input id="brush" type="range" min={2} max={30} value={brush} onChange={(e) => setBrush(Number(e.target.value))} />
            </div>
            <button type="button" onClick={clear} disabled={disabled || !painted}>
              Clear mask
            </button>
            <button type="button" onClick={remove} disabled={disabled}>
              Remove image
            </button>
          </div>
        </>
      )}
    </section>
  );
}
