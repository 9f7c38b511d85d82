// The error class of the package. The wasm code creates every error it
// throws or rejects with through this constructor, so `instanceof` works.

/** Fields copied from the second constructor argument, in this order. */
const FIELDS = ["code", "provider", "status", "retryable", "param", "retryAfterMs", "attempts", "images"];

export class ImageGenError extends Error {
  constructor(message, fields) {
    super(message);
    // An own property, as on the plain errors of earlier versions.
    this.name = "ImageGenError";
    const f = fields ?? {};
    for (const key of FIELDS) {
      if (f[key] !== undefined) this[key] = f[key];
    }
    if (this.retryable === undefined) this.retryable = false;
    if (this.attempts === undefined) this.attempts = [];
    if (this.images === undefined) this.images = [];
  }
}

// On the prototype too, so stack traces and consoles print "ImageGenError: ...".
Object.defineProperty(ImageGenError.prototype, "name", { value: "ImageGenError", writable: true, configurable: true });

const isError =
  typeof Error.isError === "function"
    ? Error.isError
    : (value) => Object.prototype.toString.call(value) === "[object Error]";

/**
 * True for errors of this package, also those made by another copy of it
 * (two installed versions, another realm such as an iframe or a `vm`
 * context): an `Error` whose `name` is "ImageGenError" and which has a
 * string `code`. The plain objects in `GenerateResult.errors` are data,
 * not errors: false for them.
 */
export function isImageGenError(value) {
  return isError(value) && value.name === "ImageGenError" && typeof value.code === "string";
}
