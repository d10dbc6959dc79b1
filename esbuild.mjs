// Bundles the extension, the CLI and the timeline webview. `vscode` stays external: the host provides it.
import * as esbuild from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // jsonc-parser's UMD 'main' does dynamic requires that esbuild cannot follow; its ESM build bundles cleanly.
  mainFields: ['module', 'main'],
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
};

const contexts = await Promise.all([
  esbuild.context({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] }),
  esbuild.context({ ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  // The webview runs in the editor's browser frame: its own bundle (uPlot and its CSS inside), served from dist/webview only.
  esbuild.context({
    ...common,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    mainFields: ['browser', 'module', 'main'],
    entryPoints: { timeline: 'src/webview/timeline.ts' },
    outdir: 'dist/webview',
  }),
]);

// The editor's JSON language service gets a copy of the schema for IntelliSense only (descriptions, defaults,
// allowed values as suggestions): our own parser reports every fault once, named by the backend, with quick fixes.
// Validation keywords go; an enum becomes examples, a type becomes a snippet, so completion still offers them.
const DROP = new Set(['required', 'pattern', 'not', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'uniqueItems', 'format']);
const SNIPPET = { object: {}, array: [] };
function forEditor(node) {
  if (Array.isArray(node)) return node.map(forEditor);
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROP.has(key) || (key === 'additionalProperties' && typeof value === 'boolean')) continue;
    if (key === 'type') {
      if (value in SNIPPET) out.defaultSnippets = [{ body: SNIPPET[value] }];
      else if (value === 'boolean') out.examples = [true, false];
    } else if (key === 'enum') out.examples = value;
    else if (key === 'const') out.examples = [value];
    else if (key === 'oneOf') out.anyOf = forEditor(value);
    else if (key === 'properties' || key === 'definitions')
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, forEditor(v)]));
    else out[key] = forEditor(value);
  }
  return out;
}
function writeEditorSchema() {
  const schema = forEditor(JSON.parse(readFileSync('schema/rollout.schema.json', 'utf8')));
  // Our parser accepts both (jsonc); without these the JSON service flags them in a .json file.
  Object.assign(schema, { allowComments: true, allowTrailingCommas: true });
  delete schema.$id;
  mkdirSync('dist', { recursive: true });
  writeFileSync('dist/rollout.editor.schema.json', JSON.stringify(schema, null, 2) + '\n');
}
writeEditorSchema();

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
