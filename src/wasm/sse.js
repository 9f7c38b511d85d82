// Server-sent events read where they arrive: the body is decoded with the
// platform's TextDecoderStream, split into events here and each event's
// data parsed with JSON.parse, so preview base64 (megabytes) stays a JS
// string and never enters wasm memory. Rust pulls events one at a time.

export class SseReader {
  constructor(response) {
    this.reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    // Text since the last block end, as the chunks it came in: joined once
    // per event, so a large event costs time in proportion to its size
    // (appending to one string and searching it again after every chunk
    // grows with the square of the event's size).
    this.pending = [];
    this.pendingEndsWithLf = false;
    this.blocks = [];
    this.ended = false;
    this.cr = false;
  }

  // The next event as {event, data} ({event, done: true} for `data: [DONE]`,
  // {event, malformed: true} when its data is not JSON), or null at the end
  // of the stream. Rejects when the body breaks or the request is aborted.
  async next() {
    for (;;) {
      if (this.blocks.length > 0) {
        const event = parseBlock(this.blocks.shift());
        if (event !== null) return event;
        continue;
      }
      if (this.ended) return null;
      const { value, done } = await this.reader.read();
      if (done) this.finish();
      else this.append(value);
    }
  }

  // Line ends become "\n"; a "\r" at the end of a chunk waits for the next
  // one, which may start with its "\n". Only the new chunk is searched for a
  // block end (a blank line), plus the one character before it.
  append(chunk) {
    let text = this.cr ? "\r" + chunk : chunk;
    this.cr = text.endsWith("\r");
    if (this.cr) text = text.slice(0, -1);
    if (text.indexOf("\r") !== -1) text = text.replace(/\r\n?/g, "\n");
    if (text === "") return;
    this.pending.push(text);
    const ends = text.indexOf("\n\n") !== -1 || (this.pendingEndsWithLf && text[0] === "\n");
    if (!ends) {
      this.pendingEndsWithLf = text.endsWith("\n");
      return;
    }
    const all = this.pending.join("");
    let start = 0;
    for (let end = all.indexOf("\n\n"); end !== -1; end = all.indexOf("\n\n", start)) {
      this.blocks.push(all.slice(start, end));
      start = end + 2;
    }
    const rest = all.slice(start);
    this.pending = rest === "" ? [] : [rest];
    this.pendingEndsWithLf = rest.endsWith("\n");
  }

  // The end of the body: a held "\r" is a line end, and a last event without
  // its blank line still counts.
  finish() {
    this.ended = true;
    const rest = this.pending.join("") + (this.cr ? "\n" : "");
    this.pending = [];
    if (rest.trim() !== "") this.blocks.push(rest);
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
