/*
 * corral-exec: the last step of a task's launch, in one small static program instead of a chain of
 * setsid, unshare and a shell init (each a dynamic exec, ~0.7 ms on 2 cores; see bench/RESULTS.md).
 * Node cannot create namespaces or fork, so like runc's nsexec this part is C. It is run by the
 * task's side (src/kernel/agent/launch-scripts.ts) after it joined the task's cgroups, as root:
 *
 *   corral-exec KEY ns|plain UID|- GID|- START|- N NAME=VALUE... ARGV...
 *   corral-exec launch      (the fork server and supervisors: corral-launch.c)
 *
 * The fork server runs the first form in each task's side without exec'ing this program again.
 * It starts a session of its own (so the task's `kill 0` reaches only the task). With `ns` it makes
 * a PID and a mount namespace and forks their pid 1, which mounts a private /proc, drops to UID:GID
 * (no supplementary groups) and runs ARGV as its child with exactly the N given variables as its
 * environment; pid 1 reaps orphans and exits with the task's status, and the kernel then kills
 * whatever is left in the namespace. The outer process waits, ignoring SIGTERM (the task decides
 * about that), and dies with its namespace: if it is killed, pid 1 gets SIGKILL (PDEATHSIG). With
 * `plain` it drops privileges and execs ARGV in place. START (ms since the epoch, or `-`) holds the
 * exec of ARGV until that wall-clock time: everything else (session, namespaces, /proc, user) is
 * done before, so a task staged ahead starts on time; until then a SIGTERM ends it without ARGV
 * ever running. Either way `KEY running MS` (the wall-clock ms at that moment) goes to fd 3 just
 * before ARGV is exec'd, by the process that execs it, and ARGV never inherits fd 3; the native
 * launcher also has the same ms written to the launch's META/running (running_fd).
 *
 * Exit statuses are sh's: the task's exit code, or 128 + the signal that killed it; 125 when the
 * launch itself failed (message on stderr), 126/127 when ARGV cannot be executed / is not found.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include "corral-exec.h"

extern char **environ;

static void fail(const char *what) {
  fprintf(stderr, "corral-exec: %s: %s\n", what, strerror(errno));
  _exit(125);
}

int shell_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static long number(const char *text, const char *what) {
  char *end;
  errno = 0;
  long n = strtol(text, &end, 10);
  if (errno || *text == '\0' || *end != '\0' || n < 0) {
    fprintf(stderr, "corral-exec: invalid %s '%s'\n", what, text);
    _exit(125);
  }
  return n;
}

static void drop_privileges(const char *uid, const char *gid) {
  if (strcmp(uid, "-") == 0) return;
  gid_t g = (gid_t)number(gid, "gid");
  uid_t u = (uid_t)number(uid, "uid");
  if (setgroups(0, NULL) != 0) fail("setgroups");
  if (setgid(g) != 0) fail("setgid");
  if (setuid(u) != 0) fail("setuid");
}

/*
 * A task held until START waits at a raised priority (nice lowered by GATE_BOOST while root), so on
 * a busy node — where many held tasks wake at the same second beside the staging of later ones — it
 * gets a CPU at once for the last step; `restore_priority` puts the task's own priority back before
 * ARGV is exec'd (raising nice needs no privilege). Without root nothing changes.
 */
#define GATE_BOOST 10
static int task_nice;

static void boost_priority(long long start) {
  if (start < 0) return;
  errno = 0;
  task_nice = getpriority(PRIO_PROCESS, 0);
  if (errno == 0) setpriority(PRIO_PROCESS, 0, task_nice - GATE_BOOST);
}

static void restore_priority(long long start) {
  if (start >= 0) setpriority(PRIO_PROCESS, 0, task_nice);
}

/* Sleeps until START (ms since the epoch, CLOCK_REALTIME); a past or absent START returns at once. */
static void wait_for_start(long long start) {
  if (start < 0) return;
  struct timespec at = {.tv_sec = (time_t)(start / 1000), .tv_nsec = (long)(start % 1000) * 1000000L};
  while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR) {
  }
}

void say(const char *key, const char *what) {
  char line[160];
  int len = snprintf(line, sizeof line, "%s %s\n", key, what);
  struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
  sigaction(SIGPIPE, &ignore, &old);
  if (len > 0 && len < (int)sizeof line && write(3, line, (size_t)len) < 0) { /* the agent may be gone */ }
  sigaction(SIGPIPE, &old, NULL);
}

int running_fd = -1;

static void say_running(const char *key) {
  char what[48];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  long long ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
  snprintf(what, sizeof what, "running %lld", ms);
  say(key, what);
  close(3);
  if (running_fd >= 0) {
    int len = snprintf(what, sizeof what, "%lld\n", ms);
    if (write(running_fd, what, (size_t)len) < 0) { /* read as not recorded */ }
    close(running_fd);
  }
}

static void exec_task(char **argv, char **env) {
  environ = env;
  execvp(argv[0], argv);
  int code = errno == ENOENT ? 127 : 126;
  fprintf(stderr, "corral-exec: cannot execute '%s': %s\n", argv[0], strerror(errno));
  _exit(code);
}

/*
 * pid 1 of the task's namespace: /proc, the task user, the task as its child (which waits for START,
 * says running and execs ARGV), reaping until it ends.
 */
static void namespace_init(const char *key, const char *uid, const char *gid, long long start, char **argv, char **env) {
  prctl(PR_SET_NAME, "corral-init");
  if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("making mounts private");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) fail("mounting /proc");
  boost_priority(start);
  drop_privileges(uid, gid);
  pid_t task = fork();
  if (task < 0) fail("fork");
  if (task == 0) {
    wait_for_start(start);
    say_running(key);
    restore_priority(start);
    exec_task(argv, env);
  }
  restore_priority(start);
  close(3);
  for (;;) {
    int status;
    pid_t pid = wait(&status);
    if (pid == task) _exit(shell_status(status));
    if (pid < 0 && errno != EINTR) _exit(125);
  }
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "launch") == 0) return launcher();
  return run_task(argc, argv);
}

int run_task(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: corral-exec KEY ns|plain UID|- GID|- START|- N NAME=VALUE... ARGV...\n");
    return 125;
  }
  const char *key = argv[1], *mode = argv[2], *uid = argv[3], *gid = argv[4];
  long long start = strcmp(argv[5], "-") == 0 ? -1 : (long long)number(argv[5], "start time");
  long n = number(argv[6], "variable count");
  if (n > argc - 8) {
    fprintf(stderr, "corral-exec: %ld variables announced, fewer given\n", n);
    return 125;
  }
  char **env = calloc((size_t)n + 1, sizeof *env);
  if (!env) fail("calloc");
  for (long i = 0; i < n; i++) env[i] = argv[7 + i];
  char **task = argv + 7 + n;
  if (setsid() < 0) fail("setsid");

  if (strcmp(mode, "plain") == 0) {
    boost_priority(start);
    drop_privileges(uid, gid);
    wait_for_start(start);
    say_running(key);
    restore_priority(start);
    exec_task(task, env);
  }
  if (strcmp(mode, "ns") != 0) {
    fprintf(stderr, "corral-exec: unknown mode '%s'\n", mode);
    return 125;
  }
  if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) fail("unshare");
  pid_t init = fork();
  if (init < 0) fail("fork");
  if (init == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("prctl");
    namespace_init(key, uid, gid, start, task, env);
  }
  close(3);
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  int status;
  while (waitpid(init, &status, 0) < 0)
    if (errno != EINTR) fail("waitpid");
  return shell_status(status);
}
