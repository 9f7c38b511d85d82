// Multipart edit requests, read where their files live: the platform parses
// the form (`Response.formData()`) while the body's size is counted as it
// streams in, and the files stay Blobs. Wasm gets the text fields, the file
// parts' names and the File objects as handles, never their bytes.

// {fields: [[name, text]], files: [[name, File]]}, or {error: "too_large" |
// "malformed"}.
export async function readForm(request, limit) {
  const declared = Number(request.headers.get("content-length"));
  if (declared > limit) return { error: "too_large" };
  if (!request.body) return { error: "malformed" };
  let seen = 0;
  let over = false;
  const counted = request.body.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > limit) {
          over = true;
          controller.error(new Error("request body too large"));
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
  let form;
  try {
    const headers = { "content-type": request.headers.get("content-type") ?? "" };
    form = await new Response(counted, { headers }).formData();
  } catch {
    return { error: over ? "too_large" : "malformed" };
  }
  if (over) return { error: "too_large" };
  const fields = [];
  const files = [];
  for (const [name, value] of form) {
    if (typeof value === "string") fields.push([name, value]);
    else files.push([name, value]);
  }
  return { fields, files };
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

// A text naming everything the form holds (files by size and SHA-256), for
// Idempotency-Key fingerprints; the hashing happens here, outside wasm.
export async function fingerprint(fields, files) {
  const parts = fields.map(([name, text]) => JSON.stringify([name, text]));
  for (const [name, file] of files) {
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    parts.push(JSON.stringify([name, file.size, hex(digest)]));
  }
  return parts.join("\n");
}
