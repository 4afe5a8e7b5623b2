#!/usr/bin/env node
// Compiles native/corral-exec.c (the last step of a task's launch, see its header) into
// dist/corral-exec: static, so it runs on any Linux of the same architecture, stripped.
//
//   node scripts/build-native.mjs [--require]
//
// Without a C compiler the agent still works — it falls back to setsid + unshare + a shell init,
// about twice as slow per launch (bench/RESULTS.md) — so a missing compiler is a warning, unless
// --require makes it an error (CI and release builds).
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({ options: { require: { type: 'boolean', default: false } } });
const source = join(root, 'native', 'corral-exec.c');
const out = join(root, 'dist', 'corral-exec');

const compiler = ['cc', 'gcc', 'clang'].find((cc) => {
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (!compiler) {
  const message = 'build-native: no C compiler (cc, gcc or clang); tasks will launch through the slower shell chain';
  if (opts.require) {
    console.error(message);
    process.exit(1);
  }
  console.warn(message);
  process.exit(0);
}
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
// -static: no loader or libc lookups at exec time, which is most of what an exec costs here.
execFileSync(compiler, ['-O2', '-static', '-s', '-Wall', '-Wextra', '-Werror', '-o', tmp, source], { stdio: 'inherit' });
renameSync(tmp, out);
console.log(`build-native: dist/corral-exec ${(statSync(out).size / 1024).toFixed(0)} KiB (${compiler}, static)`);
