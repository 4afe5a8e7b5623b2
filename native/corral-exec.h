/* What corral-exec.c (the task side) and corral-launch.c (the fork server) share. */
#ifndef CORRAL_EXEC_H
#define CORRAL_EXEC_H

/* The task side for `corral-exec KEY ns|plain UID GID START N VARS... ARGV...` (argv[0] unused). */
int run_task(int argc, char **argv);

/* `corral-exec launch`: the fork server (corral-launch.c). */
int launcher(void);

/*
 * Where say_running also records the ms at which ARGV is exec'd (-1: nowhere): the launch's
 * META/running, opened close-on-exec by the native launcher's task side before privileges are
 * dropped, so an agent that was down at that moment still learns when the task started.
 */
extern int running_fd;

/* `KEY WHAT` on fd 3 in one write (under PIPE_BUF, never interleaved); the agent may be gone. */
void say(const char *key, const char *what);

/* sh's `$?` for a wait status: the exit code, or 128 + the signal. */
int shell_status(int status);

#endif
