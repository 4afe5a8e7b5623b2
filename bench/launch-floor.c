/*
 * launch-floor: the least an isolated launch of /bin/true costs on this machine, with no Node, no
 * supervisor, no logs and no status: the floor under Corral's own launch path (bench/launch-floor.mjs
 * compiles and runs it; see bench/README.md).
 *
 *   launch-floor N PARALLEL bare|ns|cgroup|full
 *
 * Launches /bin/true N times, PARALLEL at a time, and prints one JSON line:
 *   {"mode":…,"n":…,"parallel":…,"seconds":…,"perSecond":…,"cpuMsPerLaunch":…,"hierarchies":[…]}
 * CPU is getrusage(RUSAGE_SELF) + getrusage(RUSAGE_CHILDREN): this process and every reaped
 * descendant. Modes:
 *   bare    fork + execve /bin/true.
 *   ns      the shape of native/corral-exec.c in ns mode: the child starts a session, unshares a PID
 *           and a mount namespace and forks their pid 1 (PDEATHSIG SIGKILL), which makes the mounts
 *           private, mounts /proc, drops to uid/gid 65534 with no groups and forks+execs /bin/true
 *           as its child, then reaps; the child waits on pid 1 and exits with its status.
 *   cgroup  bare, plus per launch `<hier>/corral-floor-<pid>/t<i>` in each cgroup v1 hierarchy of
 *           memory, cpu, cpuacct, pids, freezer mounted at /sys/fs/cgroup/<hier> (missing ones are
 *           skipped; the JSON says which were used), made before the fork with
 *           memory.limit_in_bytes=8M, cpu.shares=10, pids.max=64; the child writes 0 to each
 *           cgroup.procs before anything else; the parent removes the dirs once the launch is reaped.
 *   full    cgroup + ns.
 * Any failure (mkdir, write, unshare, mount, setuid, a launch exiting non-zero) is reported on stderr
 * with its errno text and the exit status is 1 (128 + signal when interrupted). The corral-floor-<pid>
 * dirs are removed on every exit, after killing whatever is still running in them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CGROUP_V1_MAGIC 0x27e0eb
#define MAX_PARALLEL 4096
#define NOBODY 65534

static const char *const WANTED[] = {"memory", "cpu", "cpuacct", "pids", "freezer"};
#define NWANTED (sizeof WANTED / sizeof WANTED[0])
/* Limits written in each launch's cgroup, when the hierarchy has the file. */
static const struct { const char *file, *value; } LIMITS[] = {
    {"memory.limit_in_bytes", "8388608"}, {"cpu.shares", "10"}, {"pids.max", "64"}};
#define NLIMITS (sizeof LIMITS / sizeof LIMITS[0])

struct hierarchy {
  char name[64];          /* e.g. "memory", or "cpu,cpuacct" when co-mounted */
  char top[PATH_MAX];     /* <mount>/corral-floor-<pid> */
  int limit[NLIMITS];     /* which LIMITS files this hierarchy has */
  int created;
};

static struct hierarchy hier[NWANTED];
static int nhier;
static int use_ns, use_cgroup;
static pid_t main_pid;
static pid_t slot_pid[MAX_PARALLEL];
static long slot_id[MAX_PARALLEL];
static int parallel;
static volatile sig_atomic_t stop_signal;

/* ---- errors ------------------------------------------------------------------------------------ */

/* In the main process: say what failed and exit 1 (atexit removes the cgroups). */
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("launch-floor: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* In a launch's processes: say which step of which launch failed, with errno, and _exit 125. */
static void child_fail(long id, const char *what, const char *path) {
  int e = errno;
  fprintf(stderr, "launch-floor: launch %ld: %s%s%s: %s\n", id, what, path ? " " : "", path ? path : "", strerror(e));
  _exit(125);
}

/* Writes value to a cgroup file; id < 0 in the main process. EINTR (a signal during memcg reclaim,
 * or any signal under strace) is retried: the main loop checks for a stop request itself. */
static void write_file(const char *path, const char *value, long id) {
  int fd;
  while ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 && errno == EINTR) {}
  if (fd < 0) {
    if (id < 0) die("open %s: %s", path, strerror(errno));
    child_fail(id, "open", path);
  }
  ssize_t len = (ssize_t)strlen(value), n;
  while ((n = write(fd, value, (size_t)len)) < 0 && errno == EINTR) {}
  if (n != len) {
    if (n >= 0) errno = EIO; /* a short write: cgroup files take a value whole or not at all */
    if (id < 0) die("write '%s' to %s: %s", value, path, strerror(errno));
    child_fail(id, "write to", path);
  }
  close(fd);
}

static int shell_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- cgroups ----------------------------------------------------------------------------------- */

static void path_in(char *out, const struct hierarchy *h, long id, const char *file) {
  int n = file ? snprintf(out, PATH_MAX, "%s/t%ld/%s", h->top, id, file) : snprintf(out, PATH_MAX, "%s/t%ld", h->top, id);
  if (n < 0 || n >= PATH_MAX) die("cgroup path too long under %s", h->top);
}

/* The v1 hierarchies of WANTED mounted at /sys/fs/cgroup/<name>; co-mounted ones count once. */
static void find_hierarchies(void) {
  char real[NWANTED][PATH_MAX];
  for (size_t w = 0; w < NWANTED; w++) {
    char dir[128], procs[160];
    struct statfs fs;
    snprintf(dir, sizeof dir, "/sys/fs/cgroup/%s", WANTED[w]);
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
    if (statfs(dir, &fs) != 0 || fs.f_type != CGROUP_V1_MAGIC || access(procs, F_OK) != 0) {
      fprintf(stderr, "launch-floor: note: no cgroup v1 %s hierarchy at %s, skipped\n", WANTED[w], dir);
      continue;
    }
    if (!realpath(dir, real[nhier])) die("realpath %s: %s", dir, strerror(errno));
    int same = -1;
    for (int i = 0; i < nhier; i++)
      if (strcmp(real[i], real[nhier]) == 0) same = i;
    if (same >= 0) {
      size_t used = strlen(hier[same].name);
      snprintf(hier[same].name + used, sizeof hier[same].name - used, ",%s", WANTED[w]);
      continue;
    }
    struct hierarchy *h = &hier[nhier];
    snprintf(h->name, sizeof h->name, "%s", WANTED[w]);
    if (snprintf(h->top, sizeof h->top, "%s/corral-floor-%d", real[nhier], (int)main_pid) >= (int)sizeof h->top) die("path too long");
    nhier++;
  }
  if (nhier == 0) die("no cgroup v1 hierarchy (memory, cpu, cpuacct, pids, freezer) is mounted under /sys/fs/cgroup");
}

/* Makes each corral-floor-<pid> and notes which limit files its children will have. */
static void make_tops(void) {
  for (int i = 0; i < nhier; i++) {
    struct hierarchy *h = &hier[i];
    if (mkdir(h->top, 0755) != 0) die("mkdir %s: %s", h->top, strerror(errno));
    h->created = 1;
    for (size_t l = 0; l < NLIMITS; l++) {
      char file[PATH_MAX];
      snprintf(file, sizeof file, "%s/%s", h->top, LIMITS[l].file);
      h->limit[l] = access(file, F_OK) == 0;
    }
  }
  for (size_t l = 0; l < NLIMITS; l++) {
    int set = 0;
    for (int i = 0; i < nhier; i++) set |= hier[i].limit[l];
    if (!set) fprintf(stderr, "launch-floor: note: no hierarchy has %s, that limit is not set\n", LIMITS[l].file);
  }
}

static void make_launch_cgroups(long id) {
  char path[PATH_MAX];
  for (int i = 0; i < nhier; i++) {
    path_in(path, &hier[i], id, NULL);
    int r;
    while ((r = mkdir(path, 0755)) != 0 && errno == EINTR) {}
    if (r != 0) die("launch %ld: mkdir %s: %s", id, path, strerror(errno));
    for (size_t l = 0; l < NLIMITS; l++) {
      if (!hier[i].limit[l]) continue;
      path_in(path, &hier[i], id, LIMITS[l].file);
      write_file(path, LIMITS[l].value, -1);
    }
  }
}

/* rmdir, retrying while the kernel still counts the reaped launch in it (EBUSY), for up to ~1 s. */
static int remove_dir(const char *path) {
  for (int attempt = 0;; attempt++) {
    if (rmdir(path) == 0 || errno == ENOENT) return 0;
    if (errno == EINTR) continue;
    if (errno != EBUSY || attempt >= 1000) return -1;
    usleep(attempt < 10 ? 100 : 1000);
  }
}

static void remove_launch_cgroups(long id) {
  char path[PATH_MAX];
  for (int i = 0; i < nhier; i++) {
    path_in(path, &hier[i], id, NULL);
    if (remove_dir(path) != 0) die("launch %ld: rmdir %s: %s", id, path, strerror(errno));
  }
}

/* SIGKILLs every process a cgroup.procs file lists. */
static void kill_listed(const char *procs) {
  FILE *f = fopen(procs, "re");
  if (!f) return;
  long pid;
  while (fscanf(f, "%ld", &pid) == 1)
    if (pid > 0) kill((pid_t)pid, SIGKILL);
  fclose(f);
}

/* atexit: kill and reap launches in flight, then empty and remove every corral-floor-<pid>. */
static void cleanup(void) {
  if (getpid() != main_pid) return;
  for (int s = 0; s < parallel; s++)
    if (slot_pid[s] > 0) {
      kill(-slot_pid[s], SIGKILL); /* its session (ns mode: outer, pid 1 and /bin/true) */
      kill(slot_pid[s], SIGKILL);  /* before setsid */
    }
  for (int s = 0; s < parallel; s++)
    if (slot_pid[s] > 0) {
      while (waitpid(slot_pid[s], NULL, 0) < 0 && errno == EINTR) {}
      slot_pid[s] = 0;
    }
  for (int i = 0; i < nhier; i++) {
    struct hierarchy *h = &hier[i];
    if (!h->created) continue;
    DIR *d = opendir(h->top);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d)))
        if (e->d_name[0] == 't' && e->d_type == DT_DIR) {
          char sub[PATH_MAX], procs[PATH_MAX];
          if (snprintf(sub, sizeof sub, "%s/%s", h->top, e->d_name) >= (int)sizeof sub) continue;
          if (snprintf(procs, sizeof procs, "%s/cgroup.procs", sub) >= (int)sizeof procs) continue;
          kill_listed(procs);
          if (remove_dir(sub) != 0) fprintf(stderr, "launch-floor: cleanup: rmdir %s: %s\n", sub, strerror(errno));
        }
      closedir(d);
    }
    if (remove_dir(h->top) != 0) fprintf(stderr, "launch-floor: cleanup: rmdir %s: %s\n", h->top, strerror(errno));
    else h->created = 0;
  }
}

static void on_signal(int sig) { stop_signal = sig; }

static void check_stop(void) {
  if (stop_signal) {
    fprintf(stderr, "launch-floor: interrupted by signal %d, cleaning up\n", (int)stop_signal);
    exit(128 + stop_signal);
  }
}

/* ---- one launch -------------------------------------------------------------------------------- */

static void exec_true(long id) {
  char *argv[] = {"true", NULL};
  char *envp[] = {NULL};
  execve("/bin/true", argv, envp);
  child_fail(id, "execve", "/bin/true");
}

/* pid 1 of the launch's namespaces: private mounts, /proc, nobody, /bin/true as its child. */
static void namespace_init(long id) {
  if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) child_fail(id, "making mounts private", NULL);
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) child_fail(id, "mounting", "/proc");
  if (setgroups(0, NULL) != 0) child_fail(id, "setgroups", NULL);
  if (setgid(NOBODY) != 0) child_fail(id, "setgid", NULL);
  if (setuid(NOBODY) != 0) child_fail(id, "setuid", NULL);
  pid_t task = fork();
  if (task < 0) child_fail(id, "fork (in pid 1)", NULL);
  if (task == 0) exec_true(id);
  for (;;) {
    int status;
    pid_t pid = wait(&status);
    if (pid == task) _exit(shell_status(status));
    if (pid < 0 && errno != EINTR) child_fail(id, "wait (in pid 1)", NULL);
  }
}

/* The forked child of the main process; never returns. */
static void launch_child(long id) {
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigaction(SIGINT, &dfl, NULL);
  sigaction(SIGTERM, &dfl, NULL);
  sigaction(SIGHUP, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (use_cgroup) {
    char path[PATH_MAX];
    for (int i = 0; i < nhier; i++) {
      path_in(path, &hier[i], id, "cgroup.procs");
      write_file(path, "0", id);
    }
  }
  if (!use_ns) exec_true(id);
  if (setsid() < 0) child_fail(id, "setsid", NULL);
  if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) child_fail(id, "unshare(CLONE_NEWPID|CLONE_NEWNS)", NULL);
  pid_t init = fork();
  if (init < 0) child_fail(id, "fork (pid 1)", NULL);
  if (init == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(id, "prctl(PR_SET_PDEATHSIG)", NULL);
    namespace_init(id);
  }
  int status;
  while (waitpid(init, &status, 0) < 0)
    if (errno != EINTR) child_fail(id, "waitpid (pid 1)", NULL);
  _exit(shell_status(status));
}

/* ---- main -------------------------------------------------------------------------------------- */

static long parse_count(const char *text, const char *what, long max) {
  char *end;
  errno = 0;
  long n = strtol(text, &end, 10);
  if (errno || *text == '\0' || *end != '\0' || n < 1 || n > max) die("invalid %s '%s' (1..%ld)", what, text, max);
  return n;
}

static double seconds_of(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  main_pid = getpid();
  if (argc != 4) {
    fprintf(stderr, "usage: launch-floor N PARALLEL bare|ns|cgroup|full\n");
    return 2;
  }
  long n = parse_count(argv[1], "N", 100000000L);
  parallel = (int)parse_count(argv[2], "PARALLEL", MAX_PARALLEL);
  const char *mode = argv[3];
  if (strcmp(mode, "bare") == 0) {
  } else if (strcmp(mode, "ns") == 0) use_ns = 1;
  else if (strcmp(mode, "cgroup") == 0) use_cgroup = 1;
  else if (strcmp(mode, "full") == 0) use_ns = use_cgroup = 1;
  else die("unknown mode '%s' (bare, ns, cgroup or full)", mode);
  if ((use_ns || use_cgroup) && geteuid() != 0) die("mode %s needs root", mode);

  struct sigaction handler = {.sa_handler = on_signal}; /* no SA_RESTART: wait() returns EINTR */
  sigemptyset(&handler.sa_mask);
  sigaction(SIGINT, &handler, NULL);
  sigaction(SIGTERM, &handler, NULL);
  sigaction(SIGHUP, &handler, NULL);
  sigset_t stops, old;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGHUP);
  if (atexit(cleanup) != 0) die("atexit failed");

  double t0 = now();
  if (use_cgroup) {
    find_hierarchies();
    make_tops();
  }
  long started = 0, done = 0;
  int running = 0;
  while (done < n) {
    check_stop();
    while (running < parallel && started < n) {
      long id = started++;
      if (use_cgroup) make_launch_cgroups(id);
      int s = 0;
      while (slot_pid[s] != 0) s++;
      /* Signals stay blocked across fork so a child never runs the parent's handler. */
      sigprocmask(SIG_BLOCK, &stops, &old);
      pid_t pid = fork();
      if (pid == 0) launch_child(id);
      int fork_errno = errno;
      if (pid > 0) slot_pid[s] = pid, slot_id[s] = id;
      sigprocmask(SIG_SETMASK, &old, NULL);
      if (pid < 0) die("launch %ld: fork: %s", id, strerror(fork_errno));
      running++;
    }
    int status;
    pid_t pid = wait(&status);
    if (pid < 0) {
      if (errno == EINTR) continue;
      die("wait: %s", strerror(errno));
    }
    int s = 0;
    while (s < parallel && slot_pid[s] != pid) s++;
    if (s == parallel) continue; /* not one of ours */
    slot_pid[s] = 0;
    long id = slot_id[s];
    running--;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (WIFSIGNALED(status)) die("launch %ld (pid %d) was killed by signal %d", id, (int)pid, WTERMSIG(status));
      die("launch %ld (pid %d) exited with status %d", id, (int)pid, WEXITSTATUS(status));
    }
    if (use_cgroup) remove_launch_cgroups(id);
    done++;
  }
  double elapsed = now() - t0;

  struct rusage self, children;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  double cpu = seconds_of(self.ru_utime) + seconds_of(self.ru_stime) + seconds_of(children.ru_utime) + seconds_of(children.ru_stime);

  printf("{\"mode\":\"%s\",\"n\":%ld,\"parallel\":%d,\"seconds\":%.4f,\"perSecond\":%.1f,\"cpuMsPerLaunch\":%.4f,\"hierarchies\":[",
         mode, n, parallel, elapsed, (double)n / elapsed, cpu * 1000.0 / (double)n);
  for (int i = 0; i < nhier; i++) printf("%s\"%s\"", i ? "," : "", hier[i].name);
  printf("]}\n");
  if (fflush(stdout) != 0) die("writing the result: %s", strerror(errno));
  return 0;
}
