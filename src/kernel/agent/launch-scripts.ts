// The text that starts a task: pure string builders, no processes.
//
// With the exec helper built, the launcher is `corral-exec launch` (native/corral-launch.c): the
// same protocol as below, in C, fed NUL-separated records (launchRecord) that carry the enter steps
// as data — it forks each supervisor and task side from a 1 MB static process and execs nothing but
// the task, where the shell launcher forks two subshells and execs corral-exec per task (1.3–1.7
// times the CPU per launch, bench/launcher.mjs). Otherwise (no C compiler at build time):
//
// One long-lived `sh -s` per agent, the launcher (launcher.ts), reads one `L …` line per task. `L`
// forks the task's supervisor as a SUBSHELL of the launcher — no exec, so a launch costs the
// launcher a fork of a 2 MB shell instead of the agent a fork of its 100 MB self. The supervisor
// records itself (`supervisor`: its pid and start time, from /proc/self/stat, so a restarted agent
// can tell it from a process that reused its pid), forks the task's side (another subshell), writes
// `task.pid`, waits, and writes the task's wait status to `exit_status`: one write(2) of a short
// line, read only once the supervisor is gone, and a torn or empty file reads as no status (as if
// the supervisor died before it), so no tmp + rename — which cost a fork and exec of `mv` per task,
// about 1 ms of CPU here. kill -9 of the agent ends the launcher (EOF on its stdin) but leaves every
// supervisor and task running; a restarted agent re-adopts them by pid + start time, or reads
// `exit_status` when they have gone.
//
// The task's side joins the container (the isolator's enter script, with `$self` its pid) and execs
// `corral-exec` (native/corral-exec.c), which does the rest in one static program. Without it (no C
// compiler at build time) the same steps are a chain of system tools: `setsid` — a session and
// process group of its own, so a task's `kill 0` reaches only itself — then either `unshare` (PID +
// mount namespace with its own /proc, privileges dropped to the task user) whose pid 1 is
// NAMESPACE_INIT_SCRIPT, or `setpriv` + `env -i` without a namespace. Either way the task's
// environment is applied only after privileges were dropped, so nothing a framework puts in it
// (LD_PRELOAD…) reaches a program that runs as root.
//
// Every supervisor and task side writes to ONE pipe back to the agent (fd 3), each line prefixed with
// the launch's key, each a single write under PIPE_BUF and so never interleaved: `K pid <task pid>
// <supervisor pid> <start time>`, `K running` (the task's program is about to be exec'd), `K exited`
// (after `exit_status` was written), or `K failed` when the logs or the sandbox could not be opened.
// The task's own program never inherits fd 3. The launcher acknowledges each `L` with `K` on its
// stdout, so launches it died before taking can be handed to the next launcher.
//
// Exit statuses are sh's `$?`: 0..128 an exit code, 128+N "killed by signal N". A task that itself
// exits with 129..192 is therefore reported as killed by a signal: sh cannot tell the two apart.
//
// The scripts are constants; everything variable travels as single-quoted words (shellQuote) that
// become positional parameters, so nothing a framework chooses is ever parsed as shell code.
import { enterScript, shellQuote } from './isolation/formats';
import type { EnterSteps } from './isolation/types';
import { systemTool } from './supervisor';

/** Defines `L KEY META CWD STDOUT STDERR TASK_SIDE_SCRIPT ARGV…` (see the file comment). */
export const LAUNCHER_PREAMBLE = `L() {
  k=$1 d=$2 cwd=$3 out=$4 err=$5 e=$6
  shift 6
  (
    command exec </dev/null >>"$out" 2>>"$err" && cd -- "$cwd" || { echo "$k failed" >&3; exit 1; }
    read -r sp _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ st _ </proc/self/stat
    echo "$sp $st" >"$d/supervisor"
    ( read -r self _ </proc/self/stat; eval "$e" ) &
    t=$!
    echo "$t" >"$d/task.pid"
    trap '' PIPE
    echo "$k pid $t $sp $st" >&3
    wait "$t"
    s=$?
    echo "$s" >"$d/exit_status"
    echo "$k exited" >&3
    exit "$s"
  ) &
  echo "$k"
}`;

/** Says `<key> running` on fd 3; SIGPIPE ignored only for the write (the agent may be gone). */
const SAY_RUNNING = `trap '' PIPE; echo "$k running" >&3; trap - PIPE`;

/**
 * pid 1 of a task's PID namespace: `KEY NAME=VALUE… -- ARGV…`. Runs the task as its child with
 * exactly the given environment (exported in the child, so no name can clobber `k`), says
 * `running`, and waits. A shell without traps as pid 1 ignores SIGTERM (the kernel drops signals
 * init has no handler for), so the task's own process — not pid 1 — receives the agent's SIGTERM;
 * when it ends, pid 1 exits with its status and the kernel kills whatever is left in the namespace.
 */
export const NAMESPACE_INIT_SCRIPT = [
  'k=$1; shift;',
  '( unset PWD OLDPWD; while [ "$1" != -- ]; do export "$1" || exit 126; shift; done; shift; exec "$@" ) 3>&- &',
  `${SAY_RUNNING}; exec 3>&-; wait $!`,
].join(' ');

/**
 * The task side: the isolator's enter steps (join cgroups, set rlimits; `$self` is the task's pid),
 * then exec the launch argv. When nothing it execs says `running` (the shell chain without a PID
 * namespace), this shell says it.
 */
export function taskSideScript(enter: EnterSteps, argvSaysRunning: boolean): string {
  const exec = argvSaysRunning ? 'exec "$@"' : `${SAY_RUNNING}; exec "$@" 3>&-`;
  const script = enterScript(enter);
  return script === '' ? exec : `${script}\n${exec}`;
}

/** Names `export` accepts; any other name makes the namespace init fall back to `env -i`. */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface LaunchArgvSpec {
  /** The task's own argv (`/bin/sh -c value` or program + arguments). */
  argv: string[];
  /** Exactly the task's environment. */
  env: Record<string, string>;
  /** Switch to this user before exec; undefined keeps the agent's user. */
  user?: { uid: number; gid: number };
  /** Run the task as pid 1's child in its own PID namespace with its own /proc (root only). */
  pidNamespace: boolean;
  key: number;
  /** dist/corral-exec when it was built (exec-helper.ts); undefined = the shell chain. */
  execHelper: string | undefined;
  /** The exec helper holds the program's exec until this wall-clock time (ms; TaskInfo.startAt). */
  startAt?: number | undefined;
}

/** Whether the argv that launchArgv(spec) builds says `running` itself. */
export function argvSaysRunning(spec: Pick<LaunchArgvSpec, 'pidNamespace' | 'execHelper'>): boolean {
  return spec.execHelper !== undefined || spec.pidNamespace;
}

/**
 * The argv the task side execs. With the exec helper: `corral-exec KEY ns|plain UID GID START N
 * VARS… ARGV…`, which does everything below in one static program (native/corral-exec.c) and holds
 * the program until `startAt` (the shell chain has no such gate: the agent spawns it late). Otherwise a
 * chain of system tools. With a PID namespace: `setsid unshare` (new PID + mount namespace,
 * /proc remounted; unshare stays in the task's cgroup as the namespace's parent, kills the namespace
 * if it dies, and switches to the task user in its child), the namespace init, then the task.
 * Without: `setsid`, `setpriv` when the user changes, `env -i` with the task's environment, then the
 * task. Either way the task gets the user's uid and primary gid and no supplementary groups.
 */
export function launchArgv(spec: LaunchArgvSpec): string[] {
  const assignments = Object.entries(spec.env).map(([name, value]) => `${name}=${value}`);
  if (spec.execHelper) {
    const [uid, gid] = spec.user ? [String(spec.user.uid), String(spec.user.gid)] : ['-', '-'];
    const start = spec.startAt === undefined ? '-' : String(Math.max(0, Math.trunc(spec.startAt)));
    return [spec.execHelper, launchKey(spec.key), spec.pidNamespace ? 'ns' : 'plain', uid, gid, start, String(assignments.length), ...assignments, ...spec.argv];
  }
  const envArgv = [systemTool('env'), '-i', '--', ...assignments];
  const argv = [systemTool('setsid')];
  if (spec.pidNamespace) {
    argv.push(systemTool('unshare'), '--pid', '--fork', '--mount-proc', '--kill-child');
    if (spec.user) argv.push(`--setgid=${spec.user.gid}`, `--setuid=${spec.user.uid}`);
    argv.push('/bin/sh', '-c', NAMESPACE_INIT_SCRIPT, 'corral-init', launchKey(spec.key));
    const exportable = Object.keys(spec.env).every((name) => SHELL_NAME.test(name));
    return exportable ? [...argv, ...assignments, '--', ...spec.argv] : [...argv, '--', ...envArgv, ...spec.argv];
  }
  if (spec.user) argv.push(systemTool('setpriv'), `--reuid=${spec.user.uid}`, `--regid=${spec.user.gid}`, '--clear-groups', '--');
  return [...argv, ...envArgv, ...spec.argv];
}

export interface LaunchLine {
  key: number;
  metaDir: string;
  cwd: string;
  /**
   * Log files, opened for appending. The native launcher creates missing ones (mode 0640) and
   * gives them to `logOwner`; for the shell launcher they exist already, with that owner.
   */
  stdoutPath: string;
  stderrPath: string;
  logOwner: { uid: number; gid: number } | undefined;
  /** container.enterSteps(). */
  enter: EnterSteps;
  /** launchArgv(…), and whether it says `running` itself (argvSaysRunning). */
  argv: string[];
  argvSaysRunning: boolean;
}

/** The shell launcher's line that starts one supervisor (one line unless a value contains newlines). */
export function launchCommand(spec: LaunchLine): string {
  const words = [spec.metaDir, spec.cwd, spec.stdoutPath, spec.stderrPath, taskSideScript(spec.enter, spec.argvSaysRunning), ...spec.argv];
  refuseNul(words);
  return `${['L', launchKey(spec.key), ...words.map(shellQuote)].join(' ')}\n`;
}

/**
 * The native launcher's record (native/corral-launch.c): `KEY META CWD STDOUT STDERR OWNER NDIR DIR…
 * NWRITE (FILE VALUE)… NJOIN JOIN… CORE NARGS ARG…`, each word ended by a NUL. ARG… are the exec helper's arguments: the argv must be
 * launchArgv's with the helper (its first word, the helper's path, is left out: the launcher is it).
 */
export function launchRecord(spec: LaunchLine, execHelper: string): string {
  if (spec.argv[0] !== execHelper) throw new Error('The native launcher runs only the exec helper');
  const args = spec.argv.slice(1);
  const { makeDirs, writes, cgroupProcs, noCoreDumps } = spec.enter;
  const words = [
    launchKey(spec.key), spec.metaDir, spec.cwd, spec.stdoutPath, spec.stderrPath, spec.logOwner ? `${spec.logOwner.uid}:${spec.logOwner.gid}` : '-',
    String(makeDirs.length), ...makeDirs, String(writes.length), ...writes.flat(), String(cgroupProcs.length), ...cgroupProcs,
    noCoreDumps ? '1' : '0', String(args.length), ...args,
  ];
  refuseNul(words);
  return `${words.join('\0')}\0`;
}

function refuseNul(words: string[]): void {
  if (words.some((w) => w.includes('\0'))) throw new Error('A value for the task supervisor contains a NUL byte');
}

function launchKey(key: number): string {
  if (!Number.isSafeInteger(key) || key <= 0) throw new Error(`Invalid launch key ${key}`);
  return String(key);
}
