#!/usr/bin/env node
// Compiles native/corral-exec.c (the last step of a task's launch, see its header) into
// dist/corral-exec: static, so it runs on any Linux of the same architecture, stripped. And
// native/corral-udp.c (the DNS server's batched UDP socket) into dist/corral-udp.node, a Node-API
// addon built against the headers of the node running this script.
//
//   node scripts/build-native.mjs [--require]
//
// Without a C compiler the agent still works — it falls back to setsid + unshare + a shell init,
// about twice as slow per launch (bench/RESULTS.md) — and the DNS server uses Node's dgram (about
// half the native socket's rate), so a missing compiler or missing Node headers is a warning,
// unless --require makes it an error (CI and release builds).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({ options: { require: { type: 'boolean', default: false } } });
const source = join(root, 'native', 'corral-exec.c');
const launchSource = join(root, 'native', 'corral-launch.c');
const out = join(root, 'dist', 'corral-exec');
const udpSource = join(root, 'native', 'corral-udp.c');
const udpOut = join(root, 'dist', 'corral-udp.node');
// node_api.h and uv.h: installed with node (…/bin/node → …/include/node).
const nodeHeaders = join(dirname(process.execPath), '..', 'include', 'node');

function warnOrFail(message) {
  if (opts.require) {
    console.error(message);
    process.exit(1);
  }
  console.warn(message);
}

const compiler = ['cc', 'gcc', 'clang'].find((cc) => {
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
if (!compiler) {
  warnOrFail('build-native: no C compiler (cc, gcc or clang); tasks will launch through the slower shell chain, DNS will use dgram');
  process.exit(0);
}
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
// -static: no loader or libc lookups at exec time, which is most of what an exec costs here.
execFileSync(compiler, ['-O2', '-static', '-s', '-Wall', '-Wextra', '-Werror', '-o', tmp, source, launchSource], { stdio: 'inherit' });
renameSync(tmp, out);
console.log(`build-native: dist/corral-exec ${(statSync(out).size / 1024).toFixed(0)} KiB (${compiler}, static)`);

// The addon: Node-API only (no V8 or libuv ABI beyond uv_poll), so one build loads in any Node of
// this major line; Node resolves the napi_*/uv_* symbols when it loads it.
if (!existsSync(join(nodeHeaders, 'node_api.h')) || !existsSync(join(nodeHeaders, 'uv.h'))) {
  warnOrFail(`build-native: no Node headers in ${nodeHeaders} (node_api.h, uv.h); the DNS server will use Node's dgram socket`);
  process.exit(0);
}
const udpTmp = `${udpOut}.tmp-${process.pid}`;
execFileSync(compiler, ['-O2', '-shared', '-fPIC', '-s', '-Wall', '-Wextra', '-Werror', '-I', nodeHeaders, '-o', udpTmp, udpSource], { stdio: 'inherit' });
renameSync(udpTmp, udpOut);
console.log(`build-native: dist/corral-udp.node ${(statSync(udpOut).size / 1024).toFixed(0)} KiB (${compiler}, Node-API addon)`);
