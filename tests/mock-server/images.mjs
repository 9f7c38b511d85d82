// Image helpers for the mock provider server: recognise PNG / JPEG / WebP (and a few formats
// providers refuse) by their magic bytes, read dimensions from the headers, decode PNG pixels
// far enough to describe masks, and make valid PNGs (of a given size, or from pixels) for
// responses and tests. Node >= 20, built-in modules only.

import zlib from "node:zlib";
import crypto from "node:crypto";

/** The verified 1x1 PNG of docs/providers.md 1.4 (8-bit grey + alpha). */
export const PNG_1X1_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const MIME_TYPES = {
  png: "image/png",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  heic: "image/heic",
  heif: "image/heif",
  bmp: "image/bmp",
  tiff: "image/tiff",
};

// ---------------------------------------------------------------------------------------------
// CRC and hashes
// ---------------------------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 as used by PNG chunks. */
export function crc32(buffer) {
  if (typeof zlib.crc32 === "function") return zlib.crc32(buffer) >>> 0;
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function sha256Hex(buffer) {
  return crypto.createHash("sha256").update(buffer).digest("hex");
}

/** mulberry32: tiny seeded PRNG, returns floats in [0, 1). Same seed -> same sequence. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Recognising images
// ---------------------------------------------------------------------------------------------

/** The format named by the magic bytes, or null: png, jpeg, webp, gif, heic, heif, bmp, tiff. */
export function sniffFormat(buffer) {
  if (!buffer || buffer.length < 4) return null;
  if (buffer.length >= 8 && buffer.subarray(0, 8).equals(PNG_SIGNATURE)) return "png";
  if (buffer[0] === 0xff && buffer[1] === 0xd8 && buffer[2] === 0xff) return "jpeg";
  if (buffer.length >= 12 && buffer.toString("latin1", 0, 4) === "RIFF" && buffer.toString("latin1", 8, 12) === "WEBP") return "webp";
  if (buffer.toString("latin1", 0, 4) === "GIF8") return "gif";
  if (buffer[0] === 0x42 && buffer[1] === 0x4d) return "bmp";
  if (buffer.toString("latin1", 0, 4) === "II*\0" || buffer.toString("latin1", 0, 4) === "MM\0*") return "tiff";
  if (buffer.length >= 12 && buffer.toString("latin1", 4, 8) === "ftyp") {
    const brand = buffer.toString("latin1", 8, 12);
    if (["heic", "heix", "heim", "heis", "hevc", "hevx"].includes(brand)) return "heic";
    if (["mif1", "msf1", "heif"].includes(brand)) return "heif";
  }
  return null;
}

export function mimeTypeOf(format) {
  return MIME_TYPES[format] ?? null;
}

/**
 * What the bytes are: {format, mimeType, width, height, hasAlpha, ...}. width/height are null
 * when the header cannot be read (truncated or corrupt); format is null for unknown bytes.
 * PNG adds bitDepth, colorType, interlaced; JPEG adds components.
 */
export function imageInfo(buffer) {
  const format = sniffFormat(buffer);
  const info = { format, mimeType: mimeTypeOf(format), width: null, height: null, hasAlpha: null };
  try {
    if (format === "png") Object.assign(info, pngHeader(buffer));
    else if (format === "jpeg") Object.assign(info, jpegHeader(buffer));
    else if (format === "webp") Object.assign(info, webpHeader(buffer));
  } catch {
    // A corrupt header leaves width/height null; callers refuse such images.
  }
  return info;
}

function pngHeader(buffer) {
  // IHDR must be the first chunk: length 13 at offset 8, type at 12, data at 16.
  if (buffer.length < 33 || buffer.toString("latin1", 12, 16) !== "IHDR" || buffer.readUInt32BE(8) !== 13) return {};
  const colorType = buffer[25];
  let hasAlpha = colorType === 4 || colorType === 6;
  for (const chunk of pngChunks(buffer)) {
    if (chunk.type === "tRNS") hasAlpha = true;
    if (chunk.type === "IDAT" || chunk.type === "IEND") break;
  }
  const width = buffer.readUInt32BE(16);
  const height = buffer.readUInt32BE(20);
  if (width === 0 || height === 0) return {};
  return { width, height, bitDepth: buffer[24], colorType, interlaced: buffer[28] === 1, hasAlpha };
}

/** Walks PNG chunks (no CRC check); stops quietly at a truncated chunk. */
export function* pngChunks(buffer) {
  for (let pos = 8; pos + 12 <= buffer.length; ) {
    const length = buffer.readUInt32BE(pos);
    const end = pos + 12 + length;
    if (end > buffer.length) return;
    yield { type: buffer.toString("latin1", pos + 4, pos + 8), data: buffer.subarray(pos + 8, pos + 8 + length) };
    pos = end;
  }
}

// SOF markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpegHeader(buffer) {
  let pos = 2;
  while (pos + 4 <= buffer.length) {
    if (buffer[pos] !== 0xff) return {};
    const marker = buffer[pos + 1];
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return {}; // EOI / SOS before any frame header
    const length = buffer.readUInt16BE(pos + 2);
    if (JPEG_SOF.has(marker)) {
      if (pos + 10 > buffer.length) return {};
      const height = buffer.readUInt16BE(pos + 5);
      const width = buffer.readUInt16BE(pos + 7);
      if (width === 0 || height === 0) return {};
      return { width, height, components: buffer[pos + 9], hasAlpha: false };
    }
    pos += 2 + length;
  }
  return {};
}

function webpHeader(buffer) {
  const chunk = buffer.toString("latin1", 12, 16);
  if (chunk === "VP8X" && buffer.length >= 30) {
    return {
      width: 1 + buffer.readUIntLE(24, 3),
      height: 1 + buffer.readUIntLE(27, 3),
      hasAlpha: (buffer[20] & 0x10) !== 0,
    };
  }
  if (chunk === "VP8 " && buffer.length >= 30) {
    if (buffer[23] !== 0x9d || buffer[24] !== 0x01 || buffer[25] !== 0x2a) return {};
    return { width: buffer.readUInt16LE(26) & 0x3fff, height: buffer.readUInt16LE(28) & 0x3fff, hasAlpha: false };
  }
  if (chunk === "VP8L" && buffer.length >= 25) {
    if (buffer[20] !== 0x2f) return {};
    const bits = buffer.readUInt32LE(21);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff), hasAlpha: ((bits >>> 28) & 1) === 1 };
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// PNG pixels (for describing masks)
// ---------------------------------------------------------------------------------------------

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Decodes an 8-bit, non-interlaced PNG to RGBA: {width, height, rgba: Uint8Array}. Returns null
 * for what it cannot decode (other depths, interlacing, corrupt data) instead of throwing.
 */
export function decodePng(buffer, { maxPixels = 64 * 1024 * 1024 } = {}) {
  try {
    const header = pngHeader(buffer);
    const { width, height, bitDepth, colorType, interlaced } = header;
    const channels = CHANNELS[colorType];
    if (!width || bitDepth !== 8 || interlaced || !channels || width * height > maxPixels) return null;
    const idat = [];
    let palette = null;
    let transparency = null;
    for (const chunk of pngChunks(buffer)) {
      if (chunk.type === "IDAT") idat.push(chunk.data);
      else if (chunk.type === "PLTE") palette = chunk.data;
      else if (chunk.type === "tRNS") transparency = chunk.data;
      else if (chunk.type === "IEND") break;
    }
    if (colorType === 3 && !palette) return null;
    const raw = zlib.inflateSync(Buffer.concat(idat));
    const stride = width * channels;
    if (raw.length < height * (stride + 1)) return null;
    const pixels = unfilter(raw, width, height, channels);
    if (!pixels) return null;
    return { width, height, rgba: toRgba(pixels, width * height, colorType, palette, transparency) };
  } catch {
    return null;
  }
}

function unfilter(raw, width, height, bpp) {
  const stride = width * bpp;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    if (filter === 0 || (filter === 2 && y === 0)) {
      out.set(raw.subarray(src, src + stride), row);
    } else if (filter === 1) {
      for (let x = 0; x < stride; x++) out[row + x] = (raw[src + x] + (x >= bpp ? out[row + x - bpp] : 0)) & 0xff;
    } else if (filter === 2) {
      for (let x = 0; x < stride; x++) out[row + x] = (raw[src + x] + out[prev + x]) & 0xff;
    } else if (filter === 3) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[row + x - bpp] : 0;
        const b = y > 0 ? out[prev + x] : 0;
        out[row + x] = (raw[src + x] + ((a + b) >> 1)) & 0xff;
      }
    } else if (filter === 4) {
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? out[row + x - bpp] : 0;
        const b = y > 0 ? out[prev + x] : 0;
        const c = x >= bpp && y > 0 ? out[prev + x - bpp] : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        out[row + x] = (raw[src + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
    } else {
      return null;
    }
  }
  return out;
}

function toRgba(pixels, count, colorType, palette, transparency) {
  const rgba = new Uint8Array(count * 4);
  if (colorType === 6) {
    rgba.set(pixels.subarray(0, count * 4));
    return rgba;
  }
  // tRNS for grey / RGB names one 16-bit colour that is fully transparent.
  const greyKey = colorType === 0 && transparency?.length >= 2 ? transparency.readUInt16BE(0) : -1;
  const rgbKey = colorType === 2 && transparency?.length >= 6 ? [0, 2, 4].map((o) => transparency.readUInt16BE(o)) : null;
  for (let i = 0, o = 0; i < count; i++, o += 4) {
    if (colorType === 0) {
      const v = pixels[i];
      rgba[o] = rgba[o + 1] = rgba[o + 2] = v;
      rgba[o + 3] = v === greyKey ? 0 : 255;
    } else if (colorType === 4) {
      const v = pixels[i * 2];
      rgba[o] = rgba[o + 1] = rgba[o + 2] = v;
      rgba[o + 3] = pixels[i * 2 + 1];
    } else if (colorType === 2) {
      const [r, g, b] = [pixels[i * 3], pixels[i * 3 + 1], pixels[i * 3 + 2]];
      rgba[o] = r;
      rgba[o + 1] = g;
      rgba[o + 2] = b;
      rgba[o + 3] = rgbKey && rgbKey[0] === r && rgbKey[1] === g && rgbKey[2] === b ? 0 : 255;
    } else {
      const index = pixels[i];
      rgba[o] = palette[index * 3] ?? 0;
      rgba[o + 1] = palette[index * 3 + 1] ?? 0;
      rgba[o + 2] = palette[index * 3 + 2] ?? 0;
      rgba[o + 3] = transparency && index < transparency.length ? transparency[index] : 255;
    }
  }
  return rgba;
}

/**
 * Describes a mask by its pixels: the share and bounding box of fully transparent pixels
 * (OpenAI's "change here") and of white pixels, luminance >= 128 ignoring alpha (Stability's
 * "change here"). Boxes are {x, y, width, height} or null when no pixel qualifies. Null when
 * the PNG cannot be decoded (see decodePng).
 */
export function describeMask(buffer) {
  const decoded = decodePng(buffer);
  if (!decoded) return null;
  const { width, height, rgba } = decoded;
  const transparent = boxCounter();
  const white = boxCounter();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (rgba[i + 3] === 0) transparent.add(x, y);
      if ((rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3 >= 128) white.add(x, y);
    }
  }
  const total = width * height;
  return {
    transparentFraction: transparent.count / total,
    transparentBox: transparent.box(),
    whiteFraction: white.count / total,
    whiteBox: white.box(),
  };
}

function boxCounter() {
  let count = 0;
  let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
  return {
    get count() {
      return count;
    },
    add(x, y) {
      count++;
      if (x < x0) x0 = x;
      if (y < y0) y0 = y;
      if (x > x1) x1 = x;
      if (y > y1) y1 = y;
    },
    box: () => (count === 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 }),
  };
}

// ---------------------------------------------------------------------------------------------
// Making images
// ---------------------------------------------------------------------------------------------

/** One PNG chunk: length, type, data, CRC. */
export function pngChunk(type, data) {
  const typeAndData = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const chunk = Buffer.alloc(typeAndData.length + 8);
  chunk.writeUInt32BE(data.length, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typeAndData), chunk.length - 4);
  return chunk;
}

/**
 * Encodes a valid 8-bit PNG. colorType 0 (grey), 2 (RGB), 4 (grey+alpha) or 6 (RGBA);
 * `pixel(x, y)` returns the channel values as an array (default: mid-grey, opaque).
 */
export function encodePng(width, height, { colorType = 6, pixel } = {}) {
  const channels = CHANNELS[colorType];
  if (!channels || colorType === 3) throw new Error(`unsupported colour type ${colorType}`);
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  if (pixel) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const values = pixel(x, y);
        for (let c = 0; c < channels; c++) raw[y * (stride + 1) + 1 + x * channels + c] = values[c] ?? 255;
      }
    }
  } else {
    // Uniform mid-grey, opaque: one row, copied (fast for large images).
    const fill = { 1: [128], 2: [128, 255], 3: [128, 128, 128], 4: [128, 128, 128, 255] }[channels];
    const row = Buffer.alloc(stride + 1);
    for (let x = 0; x < width; x++) row.set(fill, 1 + x * channels);
    for (let y = 0; y < height; y++) row.copy(raw, y * (stride + 1));
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", zlib.deflateSync(raw)),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

/**
 * A valid PNG of exactly `totalBytes` bytes when that is at least ~100: the 1x1 PNG with a
 * tEXt chunk ("Comment", the label, then seeded letters) before IEND. Without totalBytes the
 * chunk holds only the label (so images with different labels differ). Same inputs, same bytes.
 */
export function makePngOfSize(totalBytes, { label = "", seed = 20260901 } = {}) {
  const png = Buffer.from(PNG_1X1_BASE64, "base64");
  const head = png.subarray(0, png.length - 12);
  const iend = png.subarray(png.length - 12); // IEND is always the last 12 bytes
  const keyword = Buffer.from(`Comment\0${label}`, "latin1");
  const fill = totalBytes === undefined ? 0 : totalBytes - png.length - 12 - keyword.length;
  if (totalBytes !== undefined && fill < 0) return label ? Buffer.concat([head, pngChunk("tEXt", keyword), iend]) : png;
  const random = mulberry32(seed);
  const block = Buffer.alloc(Math.min(fill, 4096));
  for (let i = 0; i < block.length; i++) block[i] = 97 + Math.floor(random() * 26); // a..z
  const text = Buffer.alloc(fill);
  for (let pos = 0; pos < fill; pos += block.length) block.copy(text, pos);
  return Buffer.concat([head, pngChunk("tEXt", Buffer.concat([keyword, text])), iend]);
}

/**
 * Base64 of a still-valid PNG whose base64 text is about `approxChars` long (for benchmarks).
 * Kept for the existing callers; makePngOfSize is exact in bytes.
 */
export function makePaddedPngBase64(approxChars) {
  const targetBytes = Math.floor((approxChars * 3) / 4);
  const minimum = Buffer.from(PNG_1X1_BASE64, "base64").length + 20;
  if (targetBytes <= minimum) return PNG_1X1_BASE64;
  return makePngOfSize(targetBytes).toString("base64");
}

/**
 * A JPEG that carries only its structure (SOI, APP0, SOF0 with the size, EOI): recognisable by
 * magic bytes and header, not decodable. Enough for input checks that read headers.
 */
export function makeJpegHeader(width, height) {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}

/** A WebP with only a VP8X header (canvas size, optional alpha flag): recognisable, not decodable. */
export function makeWebpHeader(width, height, { alpha = false } = {}) {
  const buffer = Buffer.alloc(30);
  buffer.write("RIFF", 0, "latin1");
  buffer.writeUInt32LE(22, 4);
  buffer.write("WEBPVP8X", 8, "latin1");
  buffer.writeUInt32LE(10, 16);
  buffer[20] = alpha ? 0x10 : 0;
  buffer.writeUIntLE(width - 1, 24, 3);
  buffer.writeUIntLE(height - 1, 27, 3);
  return buffer;
}
