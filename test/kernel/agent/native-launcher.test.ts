// The native launcher (`corral-exec launch`, native/corral-launch.c) against its own record format:
// records split across writes or packed into one, launch keys past any small counter, and a
// malformed record, which stops the launcher before it starts anything.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locateExecHelper } from '../../../src/kernel/agent/exec-helper';
import { launchArgv, launchRecord } from '../../../src/kernel/agent/launch-scripts';
import { waitUntil } from './helpers/harness';

const helper = locateExecHelper();

interface Launcher {
  write(text: string): void;
  acks(): string[];
  events(): string[];
  exited: Promise<number | null>;
  stderr(): string;
}

function startLauncher(t: { teardown(fn: () => unknown): void }): Launcher {
  const child = spawn(helper!, ['launch'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], env: {} });
  let acks = '';
  let events = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (acks += d.toString()));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (events += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => child.stdin!.end());
  return {
    write: (text) => child.stdin!.write(text),
    acks: () => acks.split('\n').filter(Boolean),
    events: () => events.split('\n').filter(Boolean),
    exited,
    stderr: () => stderr,
  };
}

function record(dir: string, key: number, script: string): string {
  const argv = launchArgv({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin' }, pidNamespace: false, key, execHelper: helper });
  return launchRecord({ key, metaDir: dir, cwd: dir, stdoutPath: join(dir, 'stdout'), stderrPath: join(dir, 'stderr'), enter: { cgroupProcs: [], noCoreDumps: true }, argv, argvSaysRunning: true }, helper!);
}

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-native-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('records split across writes and packed into one are all launched and acknowledged', { skip: !helper && 'dist/corral-exec is not built' }, async (t) => {
  const launcher = startLauncher(t);
  const dirs = [1, 2, 3].map(() => tempDir(t));
  const keys = [7, 123_456_789_012, 9_007_199_254_740_991];
  const texts = dirs.map((dir, i) => record(dir, keys[i]!, `ulimit -c; exit ${i + 3}`));
  // The first record in three pieces, cut inside a word and right after a NUL; the others in one write.
  const first = texts[0]!;
  launcher.write(first.slice(0, 5));
  await new Promise((r) => setTimeout(r, 50));
  t.same(launcher.acks(), [], 'nothing launched from part of a record');
  launcher.write(first.slice(5, first.indexOf('\0', 20) + 1));
  launcher.write(first.slice(first.indexOf('\0', 20) + 1) + texts[1] + texts[2]);
  await waitUntil('three launches to end', () => launcher.events().filter((e) => e.endsWith(' exited')).length === 3);
  t.same(launcher.acks(), keys.map(String), 'each key acknowledged once, in order');
  for (const [i, dir] of dirs.entries()) {
    t.equal(readFileSync(join(dir, 'exit_status'), 'utf8'), `${i + 3}\n`, `key ${keys[i]}: its exit status`);
    t.equal(readFileSync(join(dir, 'stdout'), 'utf8'), '0\n', 'core dumps off (RLIMIT_CORE 0)');
    const [pid, start] = readFileSync(join(dir, 'supervisor'), 'utf8').trim().split(' ');
    t.ok(Number(pid) > 0 && Number(start) > 0, 'the supervisor recorded its pid and start time');
    const said = launcher.events().filter((e) => e.startsWith(`${keys[i]} `)).map((e) => e.split(' ')[1]);
    // `pid` (the supervisor) and `running` (the task side) come from two processes, in either order.
    t.same([...said.slice(0, 2)].sort(), ['pid', 'running'], 'pid and running on fd 3');
    t.equal(said[2], 'exited', 'then exited');
  }
});

t.test('a malformed record stops the launcher before it starts anything', { skip: !helper && 'dist/corral-exec is not built' }, async (t) => {
  const launcher = startLauncher(t);
  const dir = tempDir(t);
  launcher.write(['1x', dir, dir, join(dir, 'o'), join(dir, 'e'), '0', '0', '0', ''].join('\0'));
  t.equal(await launcher.exited, 125);
  t.match(launcher.stderr(), /malformed launch record/);
  t.same(launcher.acks(), []);
  t.notOk(existsSync(join(dir, 'supervisor')), 'no supervisor started');
});
