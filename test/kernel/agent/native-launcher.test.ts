// The native launcher (`corral-exec launch`, native/corral-launch.c) against its own record format:
// records split across writes or packed into one, launch keys past any small counter, and a
// malformed record, which stops the launcher before it starts anything.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locateExecHelper } from '../../../src/kernel/agent/exec-helper';
import type { EnterSteps } from '../../../src/kernel/agent/isolation/types';
import { launchArgv, launchRecord } from '../../../src/kernel/agent/launch-scripts';
import { removeCgroupTree, uniqueParent } from './isolation/helpers/launch';
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
  // 'close', not 'exit': it comes after stderr was read to its end (and fd 3, which supervisors share, closed).
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.teardown(() => child.stdin!.end());
  return {
    write: (text) => child.stdin!.write(text),
    acks: () => acks.split('\n').filter(Boolean),
    events: () => events.split('\n').filter(Boolean),
    exited,
    stderr: () => stderr,
  };
}

const NO_CGROUPS: EnterSteps = { makeDirs: [], writes: [], cgroupProcs: [], noCoreDumps: true };

function record(dir: string, key: number, script: string, enter = NO_CGROUPS, logOwner?: { uid: number; gid: number }): string {
  const argv = launchArgv({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin' }, pidNamespace: false, key, execHelper: helper });
  return launchRecord({ key, metaDir: dir, cwd: dir, stdoutPath: join(dir, 'stdout'), stderrPath: join(dir, 'stderr'), logOwner, enter, argv, argvSaysRunning: true }, helper!);
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
  launcher.write(['1x', dir, dir, join(dir, 'o'), join(dir, 'e'), '-', '0', '0', '0', ''].join('\0'));
  t.equal(await launcher.exited, 125);
  t.match(launcher.stderr(), /malformed launch record/);
  t.same(launcher.acks(), []);
  t.notOk(existsSync(join(dir, 'supervisor')), 'no supervisor started');
});

const PIDS = '/sys/fs/cgroup/pids';
const noCgroups = !helper ? 'dist/corral-exec is not built' : process.getuid?.() !== 0 || !existsSync(join(PIDS, 'cgroup.procs')) ? 'needs root and a cgroup v1 pids hierarchy' : false;

t.test('the task side makes its cgroup (and missing parents), writes its limits and joins it; a refused write stops it', { skip: noCgroups }, async (t) => {
  const parent = join(PIDS, uniqueParent());
  t.teardown(() => removeCgroupTree(parent));
  const launcher = startLauncher(t);
  const [good, bad] = [tempDir(t), tempDir(t)];
  const cgroup = join(parent, 'node', 'task');
  const enter: EnterSteps = { makeDirs: [cgroup], writes: [[join(cgroup, 'pids.max'), '7']], cgroupProcs: [join(cgroup, 'cgroup.procs')], noCoreDumps: false };
  launcher.write(record(good, 1, `cat /proc/self/cgroup ${cgroup}/pids.max`, enter));
  launcher.write(record(bad, 2, 'echo started', { ...enter, writes: [...enter.writes, [join(cgroup, 'no-such-file'), '1']] }));
  await waitUntil('both launches to end', () => launcher.events().filter((e) => e.endsWith(' exited')).length === 2);
  const out = readFileSync(join(good, 'stdout'), 'utf8');
  t.match(out, new RegExp(`:pids:${cgroup.slice(PIDS.length)}\n`), 'the task ran in the cgroup its side made');
  t.match(out, /^7$/m, 'with the limit written before it joined');
  t.equal(readFileSync(join(good, 'exit_status'), 'utf8'), '0\n');
  t.equal(readFileSync(join(bad, 'exit_status'), 'utf8'), '125\n', 'a refused write: the task never runs');
  t.equal(readFileSync(join(bad, 'stdout'), 'utf8'), '');
  t.match(readFileSync(join(bad, 'stderr'), 'utf8'), /corral-exec: writing '1' to .*no-such-file/);
});

t.test('the supervisor creates missing logs (0640) for their owner; a malformed owner stops the launcher', { skip: !helper ? 'dist/corral-exec is not built' : process.getuid?.() !== 0 && 'needs root (chown)' }, async (t) => {
  const launcher = startLauncher(t);
  const dir = tempDir(t);
  launcher.write(record(dir, 5, 'echo out; echo err >&2', NO_CGROUPS, { uid: 65534, gid: 65533 }));
  await waitUntil('the launch to end', () => launcher.events().some((e) => e === '5 exited'));
  for (const [name, text] of [['stdout', 'out\n'], ['stderr', 'err\n']] as const) {
    const st = statSync(join(dir, name));
    t.same([st.uid, st.gid, st.mode & 0o777], [65534, 65533, 0o640], `${name}: created 0640 for its owner`);
    t.equal(readFileSync(join(dir, name), 'utf8'), text);
  }
  const bad = startLauncher(t);
  bad.write(record(dir, 6, 'true').replace('\0-\0', '\x001:x\0'));
  t.equal(await bad.exited, 125);
  t.match(bad.stderr(), /malformed launch record/);
});
