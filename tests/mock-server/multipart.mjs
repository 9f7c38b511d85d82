// multipart/form-data parsing for the mock provider server (RFC 7578), built-ins only.
// Parts keep their bytes as views into the request body (no copies).

export function multipartBoundary(contentType) {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  return match ? (match[1] ?? match[2]) : null;
}

export function isMultipart(contentType) {
  return /^\s*multipart\/form-data\b/i.test(contentType ?? "");
}

/**
 * Splits a multipart/form-data body into its parts, in order:
 * [{name, filename (undefined for a text field), contentType (header value or undefined),
 *   headers, data: Buffer}]. Parts without a name are skipped. Returns null when the body is
 * not well-formed multipart for the boundary in `contentType`.
 */
export function parseMultipartParts(buffer, contentType) {
  const boundary = multipartBoundary(contentType);
  if (!boundary) return null;
  const delimiter = Buffer.from(`--${boundary}`);
  const nextDelimiter = Buffer.from(`\r\n--${boundary}`);
  const parts = [];

  let pos = buffer.indexOf(delimiter);
  if (pos < 0) return null;
  for (;;) {
    pos += delimiter.length;
    if (buffer[pos] === 0x2d && buffer[pos + 1] === 0x2d) return parts; // "--": final delimiter
    while (buffer[pos] === 0x20 || buffer[pos] === 0x09) pos++; // transport padding
    if (buffer[pos] !== 0x0d || buffer[pos + 1] !== 0x0a) return null;
    pos += 2;

    // Search from the CRLF we just skipped so a part with no headers at all still parses.
    const headerEnd = buffer.indexOf("\r\n\r\n", pos - 2);
    if (headerEnd < 0) return null;
    const headers = parsePartHeaders(buffer.toString("utf8", pos, headerEnd));
    const contentStart = headerEnd + 4;
    const contentEnd = buffer.indexOf(nextDelimiter, contentStart);
    if (contentEnd < 0) return null;

    const disposition = headers["content-disposition"] ?? "";
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    if (name !== undefined) {
      parts.push({
        name,
        filename: /\bfilename="([^"]*)"/i.exec(disposition)?.[1],
        contentType: headers["content-type"],
        headers,
        data: buffer.subarray(contentStart, contentEnd),
      });
    }
    pos = contentEnd + 2; // now at "--boundary"
  }
}

function parsePartHeaders(text) {
  const headers = {};
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * The parts as {name: value}: text parts become strings, file parts
 * {filename, contentType, size}; a repeated name becomes an array.
 */
export function formFields(parts) {
  const fields = {};
  for (const part of parts) {
    const value =
      part.filename === undefined
        ? part.data.toString("utf8")
        : { filename: part.filename, contentType: part.contentType ?? "application/octet-stream", size: part.data.length };
    if (!(part.name in fields)) fields[part.name] = value;
    else if (Array.isArray(fields[part.name])) fields[part.name].push(value);
    else fields[part.name] = [fields[part.name], value];
  }
  return fields;
}

/** parseMultipartParts + formFields; null when the body is not well-formed. */
export function parseMultipart(buffer, contentType) {
  const parts = parseMultipartParts(buffer, contentType);
  return parts ? formFields(parts) : null;
}
