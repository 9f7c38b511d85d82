// Streamed previews on the page: the latest preview of each part, shown in the
// slot its final image will take, then replaced by that image. A preview of an
// attempt that failed is marked stale and removed when the next attempt of its
// part starts; whatever is left when the run ends is removed too: a preview is
// never shown as a result.
import type { GenerateEvent, GeneratedImage } from "../protocol";

export interface Preview {
  part: number;
  /** 0-based: which preview of the attempt this is. */
  index: number;
  provider: string;
  model: string;
  /** The image as a data: URL (the event's base64 is not kept beside it). */
  src: string;
  /** Its attempt failed: shown dimmed until the next attempt starts. */
  stale: boolean;
}

/** Per part, its latest preview. */
export type PreviewState = Record<number, Preview>;

function without(state: PreviewState, part: number): PreviewState {
  if (!(part in state)) return state;
  const next = { ...state };
  delete next[part];
  return next;
}

/** The preview state after one progress event. */
export function applyPreviewEvent(state: PreviewState, e: GenerateEvent): PreviewState {
  switch (e.type) {
    case "partial_image":
      return {
        ...state,
        [e.part]: {
          part: e.part,
          index: e.index,
          provider: e.provider,
          model: e.model,
          src: `data:${e.image.mimeType};base64,${e.image.base64}`,
          stale: false,
        },
      };
    case "attempt_start":
    case "image":
      // A new attempt starts from scratch; a final image replaces the preview.
      return without(state, e.part);
    case "attempt_end": {
      const p = state[e.part];
      if (!p || e.outcome === "ok" || p.stale) return state;
      return { ...state, [e.part]: { ...p, stale: true } };
    }
    default:
      return state;
  }
}

export type Slot =
  | { key: string; kind: "final"; index: number; image: GeneratedImage }
  | { key: string; kind: "preview"; preview: Preview };

/**
 * What the images list shows, in order. Slot `i` is final image `i` or, until
 * it arrives, the preview of part `i` (a streamed part makes one image, and
 * the results are in part order), so a preview and its final image share a
 * key: React keeps the element and the preview sharpens into the image.
 */
export function slots(images: Array<GeneratedImage | undefined>, previews: PreviewState): Slot[] {
  const out: Array<{ order: number; slot: Slot }> = [];
  images.forEach((image, index) => {
    if (image) out.push({ order: index, slot: { key: `slot-${index}`, kind: "final", index, image } });
  });
  for (const preview of Object.values(previews)) {
    const taken = images[preview.part] !== undefined;
    out.push({
      order: taken ? images.length + preview.part : preview.part,
      slot: { key: taken ? `preview-${preview.part}` : `slot-${preview.part}`, kind: "preview", preview },
    });
  }
  return out.sort((a, b) => a.order - b.order).map((o) => o.slot);
}
