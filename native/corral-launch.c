/*
 * corral-exec launch: the agent's fork server and every task's supervisor, in C (one static process,
 * forked per task, no exec) instead of a POSIX sh that forks two subshells and execs corral-exec per
 * task. Same protocol on the same pipes as the shell launcher in src/kernel/agent/launch-scripts.ts,
 * whose file comment describes it; only the launch records differ (they carry no shell text):
 *
 *   stdin   one record per launch, every word ended by a NUL byte:
 *           KEY META CWD STDOUT STDERR OWNER NDIR DIR... NWRITE (FILE VALUE)... NJOIN JOIN... CORE NARGS ARG...
 *           STDOUT, STDERR: the task's logs, opened for appending by its supervisor and created
 *           (mode 0640) when missing; OWNER `UID:GID` is given them, `-` leaves them to root. DIR: cgroups the task side makes first (one that exists is fine, a missing parent is
 *           made); FILE VALUE: control files it then writes, in order (a new cgroup's limits);
 *           JOIN: cgroup.procs files the task side writes its pid to; CORE 1: core dumps off
 *           (RLIMIT_CORE 0); ARG...: the exec helper's own arguments (KEY ns|plain UID GID START N
 *           VARS... ARGV..., see corral-exec.c), run in the task side without another exec.
 *   stdout  `KEY\n` once the launch's supervisor was forked.
 *   fd 3    `KEY pid TASK SUPERVISOR START_TIME`, `KEY running MS`, `KEY exited`, `KEY failed`;
 *           META/running gets MS too, for an agent that was down when the task started.
 *
 * The launcher ignores SIGCHLD, so the kernel reaps supervisors as they end. EOF on stdin (the agent
 * is gone) ends the launcher and nothing else: supervisors and tasks run on, and a restarted agent
 * re-adopts them from META (`supervisor`: pid and start time; `task.pid`; `exit_status`, sh's `$?`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "corral-exec.h"

/* Acknowledgements are written in batches of at most this many bytes. */
#define ACK_CAP 4096

/* A record's words point into the launcher's buffer; valid until the buffer moves. */
struct record {
  char *key, *meta, *cwd, *out, *err, *core;
  /* The logs' owner; uid -1: none given. */
  uid_t uid;
  gid_t gid;
  char **dirs, **writes, **join;
  long ndirs, nwrites, njoin;
  /* The exec helper's argv (argv[0] a placeholder, NULL-ended), for run_task as it is. */
  char **argv;
  long argc;
};

/* Writes `text` to META/NAME (created or truncated), as `echo text >file` does; errors are ignored. */
static void record_file(const char *meta, const char *name, const char *text) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", meta, name) >= (int)sizeof path) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) { /* read as no status, like a torn file */ }
  close(fd);
}

/* Field 22 of /proc/self/stat: this process's start time in clock ticks since boot. */
static unsigned long long own_start_time(void) {
  char buf[1024];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  p += 2; /* field 3 */
  for (int field = 3; field < 22 && p; field++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  return p ? strtoull(p, NULL, 10) : 0;
}

/* Opens `path` onto `fd` (0: read, else append, created 0640 and given to r's owner), as `exec <path` / `exec >>path`. */
static int open_onto(const char *path, int fd, const struct record *r) {
  int opened = fd == 0 ? open(path, O_RDONLY) : open(path, O_WRONLY | O_APPEND | O_CREAT, 0640);
  if (opened < 0) return -1;
  if (fd != 0 && r->uid != (uid_t)-1 && fchown(opened, r->uid, r->gid) != 0) return -1;
  if (opened != fd) {
    if (dup2(opened, fd) < 0) return -1;
    close(opened);
  }
  return 0;
}

/* Writes `text` to the existing file `path` in one write(2); 0 or -1 with errno set. */
static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
  int saved = errno;
  close(fd);
  errno = saved;
  return ok;
}

/* mkdir that accepts an existing directory and first makes missing parents (a few levels at most). */
static int make_dir(const char *dir, int depth) {
  if (mkdir(dir, 0755) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT || depth >= 8) return -1;
  char parent[4096];
  const char *slash = strrchr(dir, '/');
  if (!slash || slash == dir || (size_t)(slash - dir) >= sizeof parent) return -1;
  memcpy(parent, dir, (size_t)(slash - dir));
  parent[slash - dir] = '\0';
  if (make_dir(parent, depth + 1) != 0) return -1;
  return mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* The task side: make and limit the container's new cgroups, join them, then what corral-exec does for ARG... (never returns). */
static void task_side(const struct record *r) {
  prctl(PR_SET_NAME, "corral-task");
  for (long i = 0; i < r->ndirs; i++) {
    if (make_dir(r->dirs[i], 0) != 0) {
      fprintf(stderr, "corral-exec: making cgroup %s: %s\n", r->dirs[i], strerror(errno));
      _exit(125);
    }
  }
  for (long i = 0; i < r->nwrites; i++) {
    const char *file = r->writes[2 * i], *value = r->writes[2 * i + 1];
    if (write_file(file, value) != 0) {
      fprintf(stderr, "corral-exec: writing '%s' to %s: %s\n", value, file, strerror(errno));
      _exit(125);
    }
  }
  char pid[32];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  for (long i = 0; i < r->njoin; i++) {
    if (write_file(r->join[i], pid) != 0) {
      fprintf(stderr, "corral-exec: joining %s: %s\n", r->join[i], strerror(errno));
      _exit(125);
    }
  }
  if (strcmp(r->core, "1") == 0) {
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
  }
  char path[4096];
  if (snprintf(path, sizeof path, "%s/running", r->meta) < (int)sizeof path)
    running_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  _exit(run_task((int)r->argc, r->argv));
}

/* The supervisor (forked by the launcher): logs, sandbox, the task side, its status (never returns). */
static void supervise(const struct record *r) {
  prctl(PR_SET_NAME, "corral-super");
  signal(SIGCHLD, SIG_DFL);
  if (open_onto("/dev/null", 0, r) != 0 || open_onto(r->out, 1, r) != 0 || open_onto(r->err, 2, r) != 0 || chdir(r->cwd) != 0) {
    fprintf(stderr, "corral-exec: task %s: %s\n", r->key, strerror(errno));
    say(r->key, "failed");
    _exit(1);
  }
  char text[96];
  unsigned long long start_time = own_start_time();
  snprintf(text, sizeof text, "%d %llu\n", (int)getpid(), start_time);
  record_file(r->meta, "supervisor", text);
  pid_t task = fork();
  if (task < 0) {
    fprintf(stderr, "corral-exec: fork: %s\n", strerror(errno));
    say(r->key, "failed");
    _exit(1);
  }
  if (task == 0) {
    signal(SIGPIPE, SIG_DFL);
    task_side(r);
  }
  snprintf(text, sizeof text, "%d\n", (int)task);
  record_file(r->meta, "task.pid", text);
  snprintf(text, sizeof text, "pid %d %d %llu", (int)task, (int)getpid(), start_time);
  say(r->key, text);
  int status;
  while (waitpid(task, &status, 0) < 0)
    if (errno != EINTR) _exit(125);
  int s = shell_status(status);
  snprintf(text, sizeof text, "%d\n", s);
  record_file(r->meta, "exit_status", text);
  say(r->key, "exited");
  _exit(s);
}

/* The next NUL-ended word at *at (< end), or NULL when the buffer ends first. */
static char *word(char **at, char *end) {
  char *nul = memchr(*at, '\0', (size_t)(end - *at));
  if (!nul) return NULL;
  char *w = *at;
  *at = nul + 1;
  return w;
}

/* A count word: a small non-negative number (-1 when it is not one). */
static long count(const char *w) {
  char *e;
  long n = strtol(w, &e, 10);
  return (*w == '\0' || *e != '\0' || n < 0 || n > 1000000) ? -1 : n;
}

/* Sets (*words)[i] = w, growing the array; 0 when out of memory. */
static int put_word(char ***words, size_t *cap, size_t i, char *w) {
  if (i >= *cap) {
    *cap = *cap * 2 + 16;
    if (!(*words = realloc(*words, *cap * sizeof **words))) return 0;
  }
  (*words)[i] = w;
  return 1;
}

/* Reads n words at *p into (*words)[from…]: 1 when all were there, 0 when more bytes are needed, -1 out of memory. */
static int take_words(char **p, char *end, char ***words, size_t *cap, size_t from, size_t n) {
  for (size_t i = from; i < from + n; i++) {
    char *w = word(p, end);
    if (!w) return 0;
    if (!put_word(words, cap, i, w)) return -1;
  }
  return 1;
}

/*
 * Parses one record at *at; 1 when complete (*at moves past it), 0 when more bytes are needed, -1
 * when it is malformed (the agent never writes one: the launcher stops).
 */
/*
 * Reads a count word and that many words (times `per`) into (*words)[*used…]: 1 when all were
 * there (*n is the count, *used moves past them), 0 when more bytes are needed, -1 when malformed.
 */
static int take_list(char **p, char *end, char ***words, size_t *cap, size_t *used, long per, long *n) {
  char *w = word(p, end);
  if (!w) return 0;
  if ((*n = count(w)) < 0) return -1;
  size_t k = (size_t)(*n * per);
  int got = take_words(p, end, words, cap, *used, k);
  if (got == 1) *used += k;
  return got;
}

/* OWNER: `-` (none: uid -1) or `UID:GID`; 0 when malformed. */
static int owner(const char *w, uid_t *uid, gid_t *gid) {
  if (strcmp(w, "-") == 0) {
    *uid = (uid_t)-1, *gid = (gid_t)-1;
    return 1;
  }
  unsigned long u, g;
  char *e;
  if (*w < '0' || *w > '9') return 0;
  u = strtoul(w, &e, 10);
  if (*e != ':' || e[1] < '0' || e[1] > '9') return 0;
  g = strtoul(e + 1, &e, 10);
  if (*e != '\0' || u >= (uid_t)-1 || g >= (gid_t)-1) return 0;
  *uid = (uid_t)u, *gid = (gid_t)g;
  return 1;
}

static int parse(char **at, char *end, struct record *r, char ***words, size_t *cap) {
  char *p = *at, *fixed[6], *w;
  for (int i = 0; i < 6; i++)
    if (!(fixed[i] = word(&p, end))) return 0;
  r->key = fixed[0], r->meta = fixed[1], r->cwd = fixed[2], r->out = fixed[3], r->err = fixed[4];
  /* Keys are the agent's launch counter: digits, no sign, short (an ack line must fit ACK_CAP). */
  size_t klen = strlen(r->key);
  if (klen == 0 || klen > 20 || strspn(r->key, "0123456789") != klen) return -1;
  if (!owner(fixed[5], &r->uid, &r->gid)) return -1;
  /* One array: the dirs, the writes, the joins, then the helper's argv — a placeholder argv[0], the args, a NULL. */
  size_t used = 0, at_writes, at_join;
  int got;
  if ((got = take_list(&p, end, words, cap, &used, 1, &r->ndirs)) != 1) return got;
  at_writes = used;
  if ((got = take_list(&p, end, words, cap, &used, 2, &r->nwrites)) != 1) return got;
  at_join = used;
  if ((got = take_list(&p, end, words, cap, &used, 1, &r->njoin)) != 1) return got;
  if (!(r->core = word(&p, end)) || !(w = word(&p, end))) return 0;
  long nargs = count(w);
  if (nargs < 0) return -1;
  size_t at_argv = used;
  if (!put_word(words, cap, at_argv, "corral-exec")) return -1;
  if ((got = take_words(&p, end, words, cap, at_argv + 1, (size_t)nargs)) != 1) return got;
  if (!put_word(words, cap, at_argv + 1 + (size_t)nargs, NULL)) return -1;
  r->dirs = *words;
  r->writes = *words + at_writes;
  r->join = *words + at_join;
  r->argv = *words + at_argv;
  r->argc = nargs + 1;
  *at = p;
  return 1;
}

int launcher(void) {
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  size_t cap = 1 << 16, len = 0, wcap = 0;
  char *buf = malloc(cap), **words = NULL;
  char *acks = malloc(ACK_CAP);
  if (!buf || !acks) return 125;
  for (;;) {
    if (len == cap) {
      cap *= 2;
      if (!(buf = realloc(buf, cap))) return 125;
    }
    ssize_t n = read(0, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    len += (size_t)n;
    char *at = buf, *end = buf + len;
    size_t acked = 0;
    struct record r;
    int got;
    while ((got = parse(&at, end, &r, &words, &wcap)) == 1) {
      pid_t pid = fork();
      if (pid == 0) {
        free(acks);
        supervise(&r);
      }
      if (pid < 0) {
        fprintf(stderr, "corral-exec launch: fork: %s\n", strerror(errno));
        say(r.key, "failed");
      }
      size_t klen = strlen(r.key);
      if (acked + klen + 1 > ACK_CAP) {
        if (write(1, acks, acked) < 0) { /* the agent is gone; EOF follows */ }
        acked = 0;
      }
      memcpy(acks + acked, r.key, klen);
      acks[acked + klen] = '\n';
      acked += klen + 1;
    }
    if (acked > 0 && write(1, acks, acked) < 0) { /* the agent is gone; EOF follows */ }
    if (got < 0) {
      fprintf(stderr, "corral-exec launch: malformed launch record\n");
      return 125;
    }
    len = (size_t)(end - at);
    memmove(buf, at, len);
  }
}
