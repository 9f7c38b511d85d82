// Comparing two captured requests field by field, and filtering the differences through the
// allow-list (allow-list.mjs). Every difference has a path:
//   method, path, query.<name>, header.<name>, body.<json path>   (JSON bodies)
//   form.<field>, part.<field>.contentType, part.<field>.filename  (multipart bodies)
// The API key each side was given is replaced by <KEY> before comparing, so the auth header
// form (scheme, header name, query parameter) is compared, not the secret.

import { isDeepStrictEqual } from "node:util";
import { ALLOWED } from "./allow-list.mjs";

const KEY = "<KEY>";

function replaceKey(text, key) {
  return typeof text === "string" ? text.split(key).join(KEY) : text;
}

/**
 * What is compared of one request: method, path, query, every header (lowercase names; values
 * with the key replaced; the multipart boundary replaced by <BOUNDARY>), and the body.
 * Header order is not part of the view (HTTP gives it no meaning).
 */
export function wireView(request) {
  const headers = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = replaceKey(Array.isArray(value) ? value.join(", ") : value, request.key);
  }
  if (headers["content-type"]) {
    headers["content-type"] = headers["content-type"].replace(/boundary=("[^"]*"|[^;\s]*)/i, "boundary=<BOUNDARY>");
  }
  const query = {};
  for (const [name, value] of request.query) query[name] = replaceKey(value, request.key);
  const view = { method: request.method, path: request.path, query, headers };
  if (request.kind === "json") view.body = request.json;
  else if (request.kind === "multipart") {
    // Stability reads form fields by name; part order is not compared (see allow-list.mjs).
    view.form = {};
    view.parts = {};
    for (const part of request.parts) {
      if (part.name in view.form) throw new Error(`form field ${part.name} sent twice`);
      view.form[part.name] = part.filename === undefined ? part.value : { file: part.filename, size: part.size };
      view.parts[part.name] = { contentType: part.contentType, filename: part.filename };
    }
  } else view.body = { [`<${request.kind} body>`]: request.raw.toString("utf8").slice(0, 200) };
  return view;
}

/** Differences between two JSON values: [{path, a, b}], recursing into objects (not arrays). */
export function jsonDiff(a, b, path) {
  const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
  // An object on one side and nothing on the other is compared key by key, so each field the
  // package adds is its own difference (and its own allow-list decision).
  if ((isObject(a) || isObject(b)) && (isObject(a) || a === undefined) && (isObject(b) || b === undefined)) {
    const [x, y] = [a ?? {}, b ?? {}];
    const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
    return keys.flatMap((k) => jsonDiff(x[k], y[k], `${path}.${k}`));
  }
  return isDeepStrictEqual(a, b) ? [] : [{ path, a, b }];
}

/** Every difference between the package's request and the reference's. */
export function requestDiff(pkg, ref) {
  const a = wireView(pkg);
  const b = wireView(ref);
  const out = [];
  for (const field of ["method", "path"]) if (a[field] !== b[field]) out.push({ path: field, a: a[field], b: b[field] });
  out.push(...jsonDiff(a.query, b.query, "query"));
  out.push(...jsonDiff(a.headers, b.headers, "header"));
  out.push(...jsonDiff(a.body, b.body, "body"));
  out.push(...jsonDiff(a.form, b.form, "form"));
  for (const name of new Set([...Object.keys(a.parts ?? {}), ...Object.keys(b.parts ?? {})])) {
    // A part's headers only matter when both sides send the field (otherwise form.<name> says it).
    if (a.parts?.[name] && b.parts?.[name]) out.push(...jsonDiff(a.parts[name], b.parts[name], `part.${name}`));
  }
  return out.map((d) => ({ ...d, pkg: d.a, ref: d.b }));
}

function matches(entry, diff, ctx) {
  if (entry.providers && !entry.providers.includes(ctx.provider)) return false;
  if (entry.oracles && !entry.oracles.includes(ctx.oracle)) return false;
  const pathOk = entry.path instanceof RegExp ? entry.path.test(diff.path) : entry.path === diff.path;
  return pathOk && (entry.when ? entry.when(diff.pkg, diff.ref, ctx) : true);
}

const show = (v) => (v === undefined ? "(absent)" : JSON.stringify(v));

/** One line per difference: path, what the package sent, what the reference sent. */
export function describe(diff, refName) {
  return `${diff.path}: package ${show(diff.pkg)}, ${refName} ${show(diff.ref)}`;
}

/**
 * Compares the package's request with the reference's; returns {unexpected, allowed}: the
 * differences no allow-list entry covers, and the covered ones with the entry's id.
 * ctx: {provider, oracle} (oracle = the reference's name in the allow-list).
 */
export function compareRequests(pkg, ref, ctx) {
  const unexpected = [];
  const allowed = [];
  for (const diff of requestDiff(pkg, ref)) {
    const entry = ALLOWED.find((e) => matches(e, diff, ctx));
    if (entry) allowed.push({ ...diff, id: entry.id });
    else unexpected.push(diff);
  }
  return { unexpected, allowed };
}
