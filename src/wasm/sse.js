// Server-sent events read where they arrive: the body is decoded with the
// platform's TextDecoderStream, split into events here and each event's
// data parsed with JSON.parse, so preview base64 (megabytes) stays a JS
// string and never enters wasm memory. Rust pulls events one at a time.

export class SseReader {
  constructor(response) {
    this.reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    this.buffer = "";
    this.scanned = 0;
    this.ended = false;
    this.cr = false;
  }

  // The next event as {event, data} ({event, done: true} for `data: [DONE]`,
  // {event, malformed: true} when its data is not JSON), or null at the end
  // of the stream. Rejects when the body breaks or the request is aborted.
  async next() {
    for (;;) {
      const block = this.takeBlock();
      if (block !== null) {
        const event = parseBlock(block);
        if (event !== null) return event;
        continue;
      }
      if (this.ended) return null;
      const { value, done } = await this.reader.read();
      if (done) {
        this.ended = true;
        if (this.cr) this.buffer += "\n";
        // A last event without its blank line still counts.
        if (this.buffer.trim() !== "") this.buffer += "\n\n";
      } else {
        this.append(value);
      }
    }
  }

  // Line ends become "\n"; a "\r" at the end of a chunk waits for the next
  // one, which may start with its "\n".
  append(chunk) {
    let text = this.cr ? "\r" + chunk : chunk;
    this.cr = text.endsWith("\r");
    if (this.cr) text = text.slice(0, -1);
    this.buffer += text.indexOf("\r") === -1 ? text : text.replace(/\r\n?/g, "\n");
  }

  takeBlock() {
    const end = this.buffer.indexOf("\n\n", Math.max(0, this.scanned - 1));
    if (end === -1) {
      this.scanned = this.buffer.length;
      return null;
    }
    const block = this.buffer.slice(0, end);
    this.buffer = this.buffer.slice(end + 2);
    this.scanned = 0;
    return block;
  }

  // Stops reading (after the final event): the connection is released.
  close() {
    this.reader.cancel().catch(() => {});
  }
}

function parseBlock(block) {
  let event = null;
  let data = null;
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data = data === null ? value : data + "\n" + value;
  }
  if (data === null) return null;
  if (data.trim() === "[DONE]") return { event, done: true };
  try {
    return { event, data: JSON.parse(data) };
  } catch {
    return { event, malformed: true };
  }
}
