// Builds the broker's live dashboard (part of `npm run build`, after tsc): type-checks the page script
// (esbuild only strips types), bundles it with uPlot into dist/broker/dashboard/assets/ under
// content-hashed names, and writes index.html naming those bundles. Everything the page runs comes from
// npm packages at build time: the machines serving it may have no internet, so nothing loads from a CDN.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pageDir = join(root, 'broker/dashboard/page');
const outDir = join(root, 'dist/broker/dashboard/assets');

execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(pageDir, 'tsconfig.json')],
  { stdio: 'inherit' },
);

// Old bundles would otherwise pile up under their old hashes and be served forever.
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { dashboard: join(pageDir, 'main.ts'), style: join(pageDir, 'style.css') },
  bundle: true,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  entryNames: '[name]-[hash]',
  outdir: outDir,
  metafile: true,
  logLevel: 'warning',
});

/** The bundle built from one entry point, by its output name. */
function bundleOf(entry, extension) {
  const output = Object.entries(result.metafile.outputs).find(
    ([file, meta]) => meta.entryPoint === relative(root, join(pageDir, entry)) && file.endsWith(extension),
  );
  if (output === undefined) throw new Error(`esbuild produced no ${extension} bundle for ${entry}`);
  return basename(output[0]);
}

const page = readFileSync(join(pageDir, 'index.html'), 'utf8')
  .replace('%SCRIPT%', bundleOf('main.ts', '.js'))
  .replace('%STYLE%', bundleOf('style.css', '.css'));
writeFileSync(join(outDir, 'index.html'), page);
console.log(`dashboard: ${relative(root, outDir)}/ (${Object.keys(result.metafile.outputs).length} files)`);
