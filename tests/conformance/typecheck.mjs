// Type-checks JSON values against the SDKs' TypeScript types (the types in node_modules are
// the SDKs' own description of the wire format). Each value becomes an object literal with a
// type annotation, so a field the type does not have is an excess-property error and a value
// outside an enum a type error.

import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * imports: TypeScript import lines; values: [{name, type, value}]. Returns the diagnostics, one
 * line each, naming the value they are about.
 */
export function typeCheck(imports, values) {
  const file = path.join(here, "__typecheck__.ts");
  const lines = [...imports];
  const owner = [];
  for (const [i, v] of values.entries()) {
    lines.push(`export const value${i}: ${v.type} = ${JSON.stringify(v.value)};`);
    owner[lines.length] = v.name; // 1-based line number of the declaration
  }
  const source = lines.join("\n");
  const options = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const isOurs = (f) => path.resolve(f) === file;
  const { readFile, fileExists, getSourceFile } = host;
  host.readFile = (f) => (isOurs(f) ? source : readFile.call(host, f));
  host.fileExists = (f) => isOurs(f) || fileExists.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => (isOurs(f) ? ts.createSourceFile(f, source, lang) : getSourceFile.call(host, f, lang, ...rest));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && isOurs(d.file.fileName) ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    const name = owner[line] ?? (d.file ? path.basename(d.file.fileName) : "");
    return `${name}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}
