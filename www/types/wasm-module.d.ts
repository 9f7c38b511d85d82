// `import wasm from "….wasm?module"`: the bundler (Next's edge compiler) hands
// over a compiled WebAssembly.Module.
declare module "*.wasm?module" {
  const module: WebAssembly.Module;
  export default module;
}
