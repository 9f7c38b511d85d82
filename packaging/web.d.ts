// Types of "imagegen/web": the API plus explicit initialization. Written to
// compile in any lib setup (DOM without Node types, Node types without DOM,
// workers types): platform types are looked up on `globalThis`, and a type
// the program does not declare simply drops out.
export * from "./index.js";

/** The instance type of a global class, if this program declares it. */
type GlobalInstance<Name extends string> = typeof globalThis extends { [K in Name]: { prototype: infer T } } ? T : never;
/** The instance type of `WebAssembly.<Name>`, if this program declares it, else `Otherwise`. */
type WasmInstance<Name extends string, Otherwise = never> = typeof globalThis extends {
  WebAssembly: { [K in Name]: { prototype: infer T } };
}
  ? T
  : Otherwise;

/** What `initSync` compiles: the wasm bytes, or a compiled `WebAssembly.Module`. */
export type SyncInitInput = ArrayBuffer | ArrayBufferView | WasmInstance<"Module">;
/**
 * Where `init` gets the wasm: a URL or `Request` (fetched; in Node.js a
 * `file:` URL is read from disk), a `Response`, the bytes, or a compiled
 * `WebAssembly.Module`.
 */
export type InitInput = string | GlobalInstance<"URL"> | GlobalInstance<"Request"> | GlobalInstance<"Response"> | SyncInitInput;

/** The initialized wasm instance's exports (`memory` is its linear memory). */
export interface InitOutput {
  readonly memory: WasmInstance<"Memory", unknown>;
}

/**
 * Loads and instantiates the wasm once; later calls resolve with the same
 * instance. Without `module_or_path` it loads imagegen_bg.wasm next to the
 * package's JS (fetched in browsers, read from disk in Node.js).
 */
export default function init(options?: { module_or_path?: InitInput | Promise<InitInput> }): Promise<InitOutput>;

/** Instantiates the wasm synchronously from its bytes or a compiled module. */
export function initSync(options: { module: SyncInitInput }): InitOutput;
