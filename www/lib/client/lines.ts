// Reads a fetch body line by line (NDJSON, server-sent events). Only newly
// arrived text is searched for line ends, so a line of several megabytes (a
// preview or an image in base64) that spans many chunks costs no rescans.

/**
 * Calls `onLine` with each line (without its "\n"; a trailing "\r" is left
 * to the caller) until the body ends or `onLine` returns `true`. The last
 * line is passed even without a final "\n". The body is cancelled when done.
 */
/** A fetch response body. */
export type Body = NonNullable<Response["body"]>;

export async function readLines(body: Body, onLine: (line: string) => boolean | void): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let start = 0;
      let nl = value.indexOf("\n");
      while (nl >= 0) {
        const line = buffered + value.slice(start, nl);
        buffered = "";
        if (onLine(line) === true) return;
        start = nl + 1;
        nl = value.indexOf("\n", start);
      }
      buffered += value.slice(start);
    }
    if (buffered) onLine(buffered);
  } finally {
    reader.cancel().catch(() => {});
  }
}
