// Bundles the editor pages' JS and CSS with esbuild: `node ivr/web/assets/build.mjs [--outdir DIR]`.
// The output (ivr/web/static/build/) is committed; tests/web/test_assets.py rebuilds into a temp folder and
// compares byte for byte, so keep the build deterministic (no dates, no absolute paths, no source maps).
import * as esbuild from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const at = argv.indexOf("--outdir");
const outdir = at >= 0 ? path.resolve(argv[at + 1]) : path.join(here, "..", "static", "build");

// codemirror-json-schema renders hover and error text as markdown through markdown-it and shiki (megabytes,
// WebAssembly), and imports YAML and JSON5 parsers; ivr needs plain JSON and plain text: small stand-ins.
const STAND_INS = {
  "../utils/markdown": "stubs/markdown.js",
  "./yaml-parser": "stubs/no-parser.js",
  "./json5-parser": "stubs/no-parser.js",
};

const standIns = {
  name: "stand-ins",
  setup(build) {
    build.onResolve({ filter: /^\.\.?\/(utils\/markdown|yaml-parser|json5-parser)$/ }, (args) => {
      if (!args.importer.includes(`${path.sep}codemirror-json-schema${path.sep}`)) {
        return undefined;
      }
      return { path: path.join(here, STAND_INS[args.path]) };
    });
  },
};

await esbuild.build({
  entryPoints: { editor: path.join(here, "editor.js") }, // editor.js imports editor.css: build/editor.css
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  charset: "utf8",
  legalComments: "eof",
  logLevel: "warning",
  plugins: [standIns],
});
