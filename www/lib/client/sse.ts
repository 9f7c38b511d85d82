// A server-sent events reader for fetch bodies (EventSource cannot POST or
// send an Authorization header): `event:` and `data:` fields, blank-line
// dispatch, comment lines (`: keep-alive`) reported separately, CRLF or LF.
import { readLines, type Body } from "./lines";

export interface SseEvent {
  /** The `event:` field, `"message"` when absent. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

/** One parsed field line into the event being built; returns whether it was a comment. */
function field(line: string, pending: { event: string; data: string[] }): boolean {
  if (line.startsWith(":")) return true;
  const colon = line.indexOf(":");
  const name = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? "" : line.slice(colon + 1);
  if (value.startsWith(" ")) value = value.slice(1);
  if (name === "event") pending.event = value;
  else if (name === "data") pending.data.push(value);
  return false;
}

/** Reads `body` to its end, calling `onEvent` for each event and `onComment` for each comment line. */
export async function readSse(
  body: Body,
  onEvent: (e: SseEvent) => void,
  onComment: (text: string) => void = () => {},
): Promise<void> {
  let pending = { event: "", data: [] as string[] };
  const line = (raw: string) => {
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (text === "") {
      if (pending.data.length > 0) onEvent({ event: pending.event || "message", data: pending.data.join("\n") });
      pending = { event: "", data: [] };
      return;
    }
    if (field(text, pending)) onComment(text.slice(1).trim());
  };
  await readLines(body, line);
  // A last event without its blank line still counts.
  line("");
}
