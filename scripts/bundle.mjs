#!/usr/bin/env node
// Bundles src/main.ts into one CommonJS file, dist/corral.js, runnable as `node dist/corral.js`
// from a checkout whose node_modules is installed (externals are required from there), and the
// framework SDK (src/kernel/sdk/index.ts) into dist/sdk.js for frameworks in other processes.
//
//   node scripts/bundle.mjs [--entry src/main.ts] [--outfile dist/corral.js]
//   node scripts/bundle.mjs --sea ASSETS.json --outfile dist/sea/corral.js   (scripts/build-binary.mjs)
//
// What stays external, and why:
// - Native addons (better-sqlite3 now; sodium-native and udx-native once hyperswarm lands): their
//   loaders look for a `.node` file relative to their own package directory, which a bundle does not
//   have. The single-executable build carries them as SEA assets instead (see DESIGN.md).
// - Any other package that looks native (binding.gyp, prebuilds/, or a node-gyp-build/bindings
//   dependency) is made external automatically, so a new native dependency cannot silently break the
//   bundle.
// Everything else bundles, checked by running a bundle that uses it: pino and pino-pretty (pino is
// used as an in-process stream; only pino *transports* need worker files next to the bundle, and
// Corral uses none), fastify (with ajv validation and fast-json-stringify serialisation),
// systeminformation (its macOS-only temperature sensors are optional requires inside try/catch),
// commander, ajv and prom-client.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { seaAddonsPlugin } from './sea-addons-plugin.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const NATIVE_EXTERNALS = ['better-sqlite3', 'sodium-native', 'udx-native'];
const NATIVE_LOADERS = ['node-gyp-build', 'node-gyp-build-optional-packages', 'bindings', 'require-addon'];

/** The commit being built, or 'unknown' outside a git checkout (e.g. a source tarball). */
function gitCommit() {
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' }).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const nativeCache = new Map();
/** True when the hoisted package in node_modules ships or builds a native addon. */
function looksNative(name) {
  if (nativeCache.has(name)) return nativeCache.get(name);
  const dir = join(root, 'node_modules', name);
  let native = existsSync(join(dir, 'binding.gyp')) || existsSync(join(dir, 'prebuilds'));
  if (!native) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      native = pkg.gypfile === true || NATIVE_LOADERS.some((l) => pkg.dependencies?.[l] !== undefined);
    } catch {
      native = false; // not installed at top level: let esbuild report it if it cannot resolve it
    }
  }
  nativeCache.set(name, native);
  return native;
}

const nativeAddonsExternal = {
  name: 'native-addons-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return undefined;
      const name = packageName(args.path);
      return looksNative(name) ? { path: args.path, external: true } : undefined;
    });
  },
};

const { values: opts } = parseArgs({
  options: {
    entry: { type: 'string', default: 'src/main.ts' },
    outfile: { type: 'string', default: 'dist/corral.js' },
    // The single executable's bundle: native addons bundled and loaded from SEA assets (their
    // table, name → {sha256, bytes, mode}, is this JSON file), no source map, no SDK or helper.
    sea: { type: 'string' },
  },
});
const seaAssets = opts.sea === undefined ? undefined : JSON.parse(readFileSync(resolve(root, opts.sea), 'utf8'));
const entry = resolve(root, opts.entry);
const outfile = resolve(root, opts.outfile);
if (!existsSync(entry)) {
  console.error(`bundle: entry ${relative(root, entry)} does not exist`);
  process.exit(1);
}

const commit = gitCommit();

/** packages-universe/ (the built-in package repository) as relative path → text, embedded in the binary. */
function builtinPackages() {
  const base = join(root, 'packages-universe');
  const files = {};
  const walk = (dir) => {
    for (const name of readdirSync(join(base, dir)).sort()) {
      const rel = dir === '' ? name : `${dir}/${name}`;
      if (statSync(join(base, rel)).isDirectory()) walk(rel);
      else files[rel] = readFileSync(join(base, rel), 'utf8');
    }
  };
  if (existsSync(base)) walk('');
  return files;
}
const result = await build({
  absWorkingDir: root,
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // --optimize-for-size before any module loads: a long-lived daemon on every node trades a
  // little peak speed for about 7 MB less resident memory (bench/RESULTS.md, idle RSS).
  banner: { js: "#!/usr/bin/env node\nrequire('node:v8').setFlagsFromString('--optimize-for-size');" },
  sourcemap: seaAssets ? false : 'linked',
  minify: false,
  legalComments: 'inline',
  external: seaAssets ? [] : NATIVE_EXTERNALS,
  plugins: seaAssets ? [seaAddonsPlugin({ root }), nativeAddonsExternal] : [nativeAddonsExternal],
  define: {
    __CORRAL_COMMIT__: JSON.stringify(commit),
    __CORRAL_PACKAGES_UNIVERSE__: JSON.stringify(builtinPackages()),
    ...(seaAssets ? { __CORRAL_SEA_ASSETS__: JSON.stringify(seaAssets) } : {}),
  },
  logLevel: 'warning',
  metafile: true,
}).catch(() => process.exit(1)); // esbuild has already printed the errors

chmodSync(outfile, 0o755);
const bytes = statSync(outfile).size;
const externals = new Set();
for (const input of Object.values(result.metafile.inputs)) {
  for (const imp of input.imports) {
    if (imp.external && !imp.path.startsWith('node:') && !imp.path.startsWith('<define:') && !builtinModules.includes(imp.path)) externals.add(imp.path);
  }
}
console.log(
  `bundle: ${relative(root, outfile)} ${(bytes / 1024 / 1024).toFixed(2)} MiB (${bytes} bytes), commit ${commit}` +
    (externals.size > 0 ? `, external: ${[...externals].sort().join(', ')}` : ''),
);

// The framework SDK (src/kernel/sdk: HTTP transport, types, resource helpers) as its own small
// CommonJS module, so a framework in another process can `require('corral/dist/sdk.js')` or
// `import { httpTransport } from '.../dist/sdk.js'` without the daemon. Built with the default entry only.
if (opts.entry === 'src/main.ts' && !seaAssets) {
  const sdkOut = resolve(root, dirname(opts.outfile), 'sdk.js');
  await build({
    absWorkingDir: root,
    entryPoints: [resolve(root, 'src/kernel/sdk/index.ts')],
    outfile: sdkOut,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    legalComments: 'inline',
    logLevel: 'warning',
  }).catch(() => process.exit(1));
  console.log(`bundle: ${relative(root, sdkOut)} ${(statSync(sdkOut).size / 1024).toFixed(1)} KiB (framework SDK)`);
}

// The agent's exec helper (native/corral-exec.c), next to the bundle; a warning without a compiler.
if (opts.entry === 'src/main.ts' && !seaAssets) execFileSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { stdio: 'inherit' });
