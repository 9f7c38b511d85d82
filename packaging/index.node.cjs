// CommonJS: `require("imagegen")` returns the ES module entry (the same
// module instance `import` gets). Node.js loads ES modules from require()
// from 20.19 and 22.12 on; older versions get a message saying what to do.
"use strict";

try {
  module.exports = require("./index.node.mjs");
} catch (e) {
  if (e && e.code === "ERR_REQUIRE_ESM") {
    const err = new Error(
      'imagegen is an ES module: require("imagegen") needs Node.js >= 20.19 (or >= 22.12 on 22.x). ' +
        'On older versions load it with `const { generateImages } = await import("imagegen")`.',
      { cause: e },
    );
    err.code = "ERR_REQUIRE_ESM";
    throw err;
  }
  throw e;
}
