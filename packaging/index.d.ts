// Types of every runtime entry: the generated declarations, without `init`.
export * from "./imagegen.js";
