// The launch argv and task-side scripts as data: what a task's exec chain looks like with and
// without a PID namespace, and that nothing a framework chooses becomes shell code.
import t from 'tap';
import { argvSaysRunning, launchArgv, launchCommand, NAMESPACE_INIT_SCRIPT, taskSideScript } from '../../../src/kernel/agent/launch-scripts';

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
  t.equal(taskSideScript('', true), 'exec "$@"');
  t.match(taskSideScript(`echo "$self" > '/cg/x' || exit 125`, false), /^echo "\$self" > '\/cg\/x' \|\| exit 125\n.*echo "\$k running" >&3.*exec "\$@" 3>&-$/s);
  const line = launchCommand({ key: 3, metaDir: "/m'x", cwd: '/s', stdoutPath: '/s/stdout', stderrPath: '/s/stderr', taskScript: 'exec "$@"', argv });
  t.match(line, /^L 3 '\/m'\\''x' '\/s' '\/s\/stdout' '\/s\/stderr' 'exec "\$@"' '\/bin\/echo' 'it'\\''s' '\$\(touch pwned\)' '`id`' 'a b'$/);
  t.throws(() => launchCommand({ key: 0, metaDir: '/m', cwd: '/s', stdoutPath: 'o', stderrPath: 'e', taskScript: '', argv }), /Invalid launch key/);
  t.throws(() => launchCommand({ key: 1, metaDir: '/m\0', cwd: '/s', stdoutPath: 'o', stderrPath: 'e', taskScript: '', argv }), /NUL/);
});
