import type { Attempt, ErrorCode, GeneratedImage, ProviderName } from "./imagegen.js";

/** The fields of an `ImageGenError`, as passed to its constructor. */
export interface ImageGenErrorFields {
  code: ErrorCode;
  provider?: ProviderName;
  status?: number;
  /** The same request may succeed if tried again later. */
  retryable: boolean;
  /** The request field at fault, for `invalid_request`. */
  param?: string;
  /** The delay the provider asked for, if any. */
  retryAfterMs?: number;
  /** Every attempt made (default `[]`). */
  attempts?: Attempt[];
  /** Images finished before an abort (default `[]`). */
  images?: GeneratedImage[];
}

/**
 * Every error the package throws or rejects with is an instance of this
 * class. (The entries of `GenerateResult.errors` are plain objects with the
 * same fields, not instances.)
 */
export class ImageGenError extends Error {
  /** Builds an error like the package's own, e.g. for a test double. */
  constructor(message: string, fields: ImageGenErrorFields);
  name: "ImageGenError";
  code: ErrorCode;
  provider?: ProviderName;
  /** HTTP status from the provider, if any. */
  status?: number;
  /** The same request may succeed if tried again later. */
  retryable: boolean;
  /** The request field at fault, for `invalid_request`. */
  param?: string;
  /** The delay the provider asked for, if any. */
  retryAfterMs?: number;
  /** Every attempt made. */
  attempts: Attempt[];
  /** Images finished before an abort. */
  images: GeneratedImage[];
}

/**
 * True for an error of this package, also one made by another copy of it
 * (another installed version, another realm): an `Error` named
 * "ImageGenError" with a string `code`.
 */
export function isImageGenError(value: unknown): value is ImageGenError;
