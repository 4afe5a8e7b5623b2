// The launch argv and task-side scripts as data: what a task's exec chain looks like with and
// without a PID namespace, and that nothing a framework chooses becomes shell code.
import t from 'tap';
import { argvSaysRunning, launchArgv, launchCommand, launchRecord, NAMESPACE_INIT_SCRIPT, taskSideScript } from '../../../src/kernel/agent/launch-scripts';

const argv = ['/bin/echo', "it's", '$(touch pwned)', '`id`', 'a b'];

t.test('without a namespace: setsid, setpriv when the user changes, env -i with exactly the task environment, then the argv', async (t) => {
  t.match(launchArgv({ argv, env: { A: '1' }, pidNamespace: false, key: 1, execHelper: undefined }), [/setsid$/, /env$/, '-i', '--', 'A=1', ...argv]);
  t.match(launchArgv({ argv, env: {}, pidNamespace: false, user: { uid: 1, gid: 2 }, key: 1, execHelper: undefined }), [/setsid$/, /setpriv$/, '--reuid=1', '--regid=2', '--clear-groups', '--', /env$/, '-i', '--', ...argv]);
});

t.test('with a namespace: setsid unshare as the task user, the init with key and exports, then the argv as separate words', async (t) => {
  const full = launchArgv({ argv, env: { PATH: '/bin', X: "$(touch y) '" }, pidNamespace: true, user: { uid: 65534, gid: 65534 }, key: 7, execHelper: undefined });
  t.match(full, [/setsid$/, /unshare$/, '--pid', '--fork', '--mount-proc', '--kill-child', '--setgid=65534', '--setuid=65534', '/bin/sh', '-c', NAMESPACE_INIT_SCRIPT, 'corral-init', '7', 'PATH=/bin', "X=$(touch y) '", '--', ...argv]);
  const odd = launchArgv({ argv, env: { 'a-b': '1' }, pidNamespace: true, key: 7, execHelper: undefined });
  t.match(odd.slice(odd.indexOf('--')), ['--', /env$/, '-i', '--', 'a-b=1', ...argv], 'a name sh cannot export falls back to env -i');
});

t.test('with the exec helper: one program, key, mode, user, variable count, variables, argv', async (t) => {
  const env = { A: '1', 'a-b': '$(x)' };
  t.same(launchArgv({ argv, env, pidNamespace: true, user: { uid: 65534, gid: 65533 }, key: 9, execHelper: '/d/corral-exec' }), ['/d/corral-exec', '9', 'ns', '65534', '65533', '-', '2', 'A=1', 'a-b=$(x)', ...argv]);
  t.same(launchArgv({ argv, env: {}, pidNamespace: false, key: 9, execHelper: '/d/corral-exec' }), ['/d/corral-exec', '9', 'plain', '-', '-', '-', '0', ...argv]);
  t.same(launchArgv({ argv, env: {}, pidNamespace: true, key: 9, execHelper: '/d/corral-exec', startAt: 1_700_000_000_123 }).slice(5, 7), ['1700000000123', '0'], 'startAt is the exec helper START');
  t.ok(argvSaysRunning({ pidNamespace: false, execHelper: '/d/corral-exec' }));
  t.notOk(argvSaysRunning({ pidNamespace: false, execHelper: undefined }));
});

t.test('task side scripts and launch lines', async (t) => {
  const none = { makeDirs: [], writes: [], cgroupProcs: [], noCoreDumps: false };
  t.equal(taskSideScript(none, true), 'exec "$@"');
  t.match(taskSideScript({ ...none, cgroupProcs: ['/cg/x'], noCoreDumps: true }, false), /^echo "\$self" > '\/cg\/x' \|\| exit 125\nulimit -c 0\n.*echo "\$k running" >&3.*exec "\$@" 3>&-$/s);
  const setup = taskSideScript({ makeDirs: ["/cg/a'b"], writes: [['/cg/a/pids.max', '7']], cgroupProcs: ['/cg/a/cgroup.procs'], noCoreDumps: false }, true);
  t.equal(setup, ["mkdir -p -- '/cg/a'\\''b' || exit 125", "printf %s '7' > '/cg/a/pids.max' || exit 125", `echo "$self" > '/cg/a/cgroup.procs' || exit 125`, 'exec "$@"'].join('\n'), 'cgroups made and limited before they are joined');
  const line = launchCommand({ key: 3, metaDir: "/m'x", cwd: '/s', stdoutPath: '/s/stdout', stderrPath: '/s/stderr', logOwner: undefined, enter: none, argv, argvSaysRunning: true });
  t.match(line, /^L 3 '\/m'\\''x' '\/s' '\/s\/stdout' '\/s\/stderr' 'exec "\$@"' '\/bin\/echo' 'it'\\''s' '\$\(touch pwned\)' '`id`' 'a b'\n$/);
  t.throws(() => launchCommand({ key: 0, metaDir: '/m', cwd: '/s', stdoutPath: 'o', stderrPath: 'e', logOwner: undefined, enter: none, argv, argvSaysRunning: true }), /Invalid launch key/);
  t.throws(() => launchCommand({ key: 1, metaDir: '/m\0', cwd: '/s', stdoutPath: 'o', stderrPath: 'e', logOwner: undefined, enter: none, argv, argvSaysRunning: true }), /NUL/);
});

t.test('native launch records: NUL-ended words with counts, the helper path left out', async (t) => {
  const helperArgv = launchArgv({ argv: ['/bin/echo', 'a b'], env: { A: '1' }, pidNamespace: true, key: 4, execHelper: '/d/corral-exec' });
  const spec = { key: 4, metaDir: '/m', cwd: '/s', stdoutPath: '/s/o', stderrPath: '/s/e', logOwner: { uid: 65534, gid: 65534 }, enter: { makeDirs: ['/cg/a'], writes: [['/cg/a/pids.max', '7'] as [string, string]], cgroupProcs: ['/cg/a/cgroup.procs', '/cg/b/cgroup.procs'], noCoreDumps: true }, argv: helperArgv, argvSaysRunning: true };
  t.equal(launchRecord(spec, '/d/corral-exec'), ['4', '/m', '/s', '/s/o', '/s/e', '65534:65534', '1', '/cg/a', '1', '/cg/a/pids.max', '7', '2', '/cg/a/cgroup.procs', '/cg/b/cgroup.procs', '1', '9', '4', 'ns', '-', '-', '-', '1', 'A=1', '/bin/echo', 'a b', ''].join('\0'));
  t.throws(() => launchRecord(spec, '/other/corral-exec'), /only the exec helper/);
  t.throws(() => launchRecord({ ...spec, cwd: '/s\0' }, '/d/corral-exec'), /NUL/);
});
