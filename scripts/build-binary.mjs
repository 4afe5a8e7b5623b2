#!/usr/bin/env node
// Builds dist/corral-linux-x64: a Node single executable application (SEA) that runs on a Linux
// x64 machine with no Node.js and no node_modules.
//
//   npm run build:binary            (= node scripts/build-binary.mjs)
//   node scripts/build-binary.mjs [--out dist/corral-linux-x64] [--no-strip]
//
// What goes in:
// - the code: src/main.ts bundled by scripts/bundle.mjs --sea into one self-contained CommonJS file
//   (inside a SEA `require` loads built-in modules only), with packages-universe/ embedded by its
//   esbuild define, the commit stamped, and the native addon packages bundled with their loaders
//   redirected to src/shared/sea-assets.ts (scripts/sea-addons-plugin.mjs);
// - as SEA assets: better-sqlite3's, sodium-native's and udx-native's `.node` files, the agent's
//   exec helper dist/corral-exec and the DNS server's UDP addon dist/corral-udp.node (both built
//   here, a C compiler is required), each extracted at run
//   time, once, to a cache directory keyed by its SHA-256;
// - the dashboard: src/ui/ has no files yet, so there is nothing to embed (checked below, so a
//   dashboard that appears is not silently left out);
// - the runtime: a copy of the `node` running this script, stripped of its symbols (about 99 → 92 MB),
//   with the blob injected by postject at NODE_SEA_FUSE_<hash>.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { SEA_ADDONS } from './sea-addons-plugin.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: 'dist/corral-linux-x64' },
    'no-strip': { type: 'boolean', default: false },
  },
});
const out = resolve(root, opts.out);
const work = join(root, 'dist', 'sea');
// The fuse Node's SEA support looks for (src/node_sea.cc); postject flips it when it injects.
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const fail = (message) => {
  console.error(`build-binary: ${message}`);
  process.exit(1);
};
const step = (message) => console.log(`build-binary: ${message}`);
const started = Date.now();

if (process.platform !== 'linux' || process.arch !== 'x64') fail(`builds linux-x64 only (this is ${process.platform}-${process.arch}): the addons it embeds are linux-x64 builds`);
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) fail(`needs Node >= 20.12 for SEA assets (this is ${process.version})`);

// 1. The exec helper (a compiler is required here: a release binary must not fall back).
execFileSync(process.execPath, [join(root, 'scripts', 'build-native.mjs'), '--require'], { stdio: 'inherit' });

// 2. The assets and their table (name → sha256, bytes, mode), which the bundle carries.
const assetFiles = {
  ...Object.fromEntries(Object.values(SEA_ADDONS).map((a) => [a.asset, join(root, a.file)])),
  'corral-exec': join(root, 'dist', 'corral-exec'),
  'corral-udp.node': join(root, 'dist', 'corral-udp.node'),
};
const table = {};
for (const [name, file] of Object.entries(assetFiles)) {
  if (!existsSync(file)) fail(`${relative(root, file)} is missing (run npm ci, which builds better-sqlite3 and installs the prebuilt addons)`);
  const bytes = readFileSync(file);
  table[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, mode: name.endsWith('.node') ? 0o644 : 0o755 };
}
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
writeFileSync(join(work, 'assets.json'), JSON.stringify(table, null, 2) + '\n');

// 3. The dashboard: nothing yet.
const uiDir = join(root, 'src', 'ui');
const uiFiles = existsSync(uiDir) ? readdirSync(uiDir, { recursive: true }).filter((f) => statSync(join(uiDir, String(f))).isFile()) : [];
if (uiFiles.length > 0) fail(`src/ui/ now has files (${uiFiles.join(', ')}): embed them (they are not served by anything yet)`);
step('dashboard: src/ui/ is empty, nothing to embed');

// 4. The self-contained bundle.
const bundle = join(work, 'corral.js');
execFileSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--sea', relative(root, join(work, 'assets.json')), '--outfile', relative(root, bundle)], { cwd: root, stdio: 'inherit' });
const code = readFileSync(bundle, 'utf8');
for (const pkg of Object.keys(SEA_ADDONS)) {
  if (code.includes(`require("${pkg}")`)) fail(`the bundle still requires '${pkg}' at run time`);
}

// 5. The blob: the bundle (with V8's code cache, so start-up skips compiling it) and the assets.
const blob = join(work, 'sea-prep.blob');
const seaConfig = join(work, 'sea-config.json');
writeFileSync(
  seaConfig,
  JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: true, assets: assetFiles }, null, 2) + '\n',
);
execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { cwd: root, stdio: 'inherit' });

// 6. node + blob. Strip before injecting: strip would not know the injected note.
const tmp = join(work, 'corral.tmp');
copyFileSync(process.execPath, tmp);
chmodSync(tmp, 0o755);
if (!opts['no-strip']) {
  try {
    execFileSync('strip', ['--strip-all', tmp], { stdio: 'inherit' });
  } catch (err) {
    step(`strip failed (${err.message}); the binary keeps node's symbols`);
  }
}
// postject's CLI in a child: its ELF library warns once per note of node's binary (harmless:
// "Can't find string offset for section name '.note…'"); only other output is shown.
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
const injected = spawnSync(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SENTINEL_FUSE], { encoding: 'utf8' });
const noise = /^(warning: Can't find string offset for section name|Start injection of|💉 Injection done)/u;
const shown = `${injected.stdout}\n${injected.stderr}`
  .split('\n')
  .map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim())
  .filter((l) => l !== '' && !noise.test(l));
if (injected.status !== 0) fail(`postject failed (${injected.status ?? injected.signal}): ${shown.join('\n')}`);
if (shown.length > 0) console.log(shown.join('\n'));
mkdirSync(dirname(out), { recursive: true });
renameSync(tmp, out);

// 7. It runs.
const version = execFileSync(out, ['--version'], { encoding: 'utf8', env: {} }).trim();
const size = statSync(out).size;
step(`${relative(root, out)} ${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes), ${version}, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
