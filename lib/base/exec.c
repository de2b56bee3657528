// SPDX-License-Identifier: Apache-2.0
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/*
 * Kill the child and whatever it started: it leads its own process group,
 * so a "/bin/sh script" that runs "sleep 30" does not leave the sleep behind.
 */
static void kill_child(pid_t pid)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/*
 * Reap PID, but stop waiting at DEADLINE (0: no limit) and kill it: a child
 * that closed its stdout and stderr can still hang.  Returns 0, -ETIMEDOUT
 * (killed and reaped) or -errno from waitpid.
 */
static int wait_child(pid_t pid, long long deadline, int *status)
{
	struct timespec nap = { .tv_nsec = 20000 };
	bool timed_out = false;
	pid_t r;

	*status = 0;
	for (;;) {
		r = waitpid(pid, status, deadline && !timed_out ? WNOHANG : 0);
		if (r == pid)
			return timed_out ? -ETIMEDOUT : 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r != 0)
			continue;
		if ((long long)clock_mono_ms() >= deadline) {
			timed_out = true;
			kill_child(pid);
			continue;
		}
		/* usually it is exiting right now: start with short naps */
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 5000000)
			nap.tv_nsec *= 2;
	}
}

/*
 * The program ARGV0 names: itself when it has a slash, else the first
 * executable regular file of that name in EXEC_PATH (never the caller's
 * PATH).  Malloc'ed; NULL with errno set when there is none.
 */
static char *exec_resolve(const char *argv0)
{
	const char *dir = EXEC_PATH, *colon;
	int saved = ENOENT;

	if (strchr(argv0, '/'))
		return strdup(argv0);
	for (; *dir; dir = colon + 1) {
		struct stat st;
		char *file;

		colon = strchrnul(dir, ':');
		if (asprintf(&file, "%.*s/%s", (int)(colon - dir), dir,
			     argv0) < 0)
			return NULL;
		if (!access(file, X_OK) && !stat(file, &st) &&
		    S_ISREG(st.st_mode))
			return file;
		if (errno == EACCES)
			saved = EACCES;
		free(file);
		if (!*colon)
			break;
	}
	errno = saved;
	return NULL;
}

char *exec_which(const char *name)
{
	return exec_resolve(name);
}

/* Does ENTRY ("NAME=value" or "NAME") set or unset NAME of VAR? */
static bool env_names(const char *entry, const char *var)
{
	size_t n = strcspn(entry, "=");

	return !strncmp(entry, var, n) && var[n] == '=';
}

/*
 * The child's environment, built before fork (the child may not allocate):
 * ours with PATH=EXEC_PATH, then ENV applied ("NAME=value" sets NAME, a
 * bare "NAME" removes it).  The strings are borrowed, the array malloc'ed.
 */
static char **exec_env(char *const env[])
{
	size_t n = 0, m = 0, i, j;
	char **out;

	while (environ && environ[n])
		n++;
	while (env && env[m])
		m++;
	out = calloc(n + m + 2, sizeof(*out));
	if (!out)
		return NULL;
	n = 0;
	for (i = 0; environ && environ[i]; i++) {
		bool replaced = env_names("PATH", environ[i]);

		for (j = 0; env && env[j] && !replaced; j++)
			replaced = env_names(env[j], environ[i]);
		if (!replaced)
			out[n++] = environ[i];
	}
	out[n++] = "PATH=" EXEC_PATH;
	for (j = 0; env && env[j]; j++) {
		if (!strchr(env[j], '='))
			continue;
		if (env_names(env[j], "PATH=")) {
			/* the caller's own PATH replaces ours */
			for (i = 0; i < n; i++)
				if (!strcmp(out[i], "PATH=" EXEC_PATH))
					out[i] = env[j];
			continue;
		}
		out[n++] = env[j];
	}
	out[n] = NULL;
	return out;
}

struct buf {
	char *p;
	size_t len, cap;
	size_t max;		/* 0: no limit */
};

/*
 * Read what FD has into B.  Returns 1 (more to come), 0 (end of file),
 * -EFBIG (B passed its max: nothing more is kept) or -errno.
 */
static int buf_read(struct buf *b, int fd)
{
	ssize_t n;

	if (b->cap - b->len < 4096) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		char *p;

		/* never more than max + 1 bytes, whatever the child prints */
		if (b->max && cap > b->max + 2)
			cap = b->max + 2;
		if (cap <= b->len + 1)
			return -EFBIG;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	n = read(fd, b->p + b->len, b->cap - b->len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	b->len += n;
	b->p[b->len] = '\0';
	if (b->max && b->len > b->max)
		return -EFBIG;
	return n == 0 ? 0 : 1;
}

int exec_run(char *const argv[], char *const env[], const char *in,
	     size_t in_len, int timeout_ms, struct exec_result *res)
{
	return exec_run_bounded(argv, env, in, in_len, timeout_ms, 0, 0, res);
}

int exec_run_bounded(char *const argv[], char *const env[], const char *in,
		     size_t in_len, int timeout_ms, size_t max_out,
		     size_t max_err, struct exec_result *res)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	struct buf out = { .max = max_out }, err = { .max = max_err };
	long long deadline = timeout_ms ? (long long)clock_mono_ms() + timeout_ms : 0;
	size_t in_off = 0;
	bool timed_out = false, sigpipe_was_pending;
	sigset_t sigpipe_set, old_mask, pending;
	char *file = NULL, **envp = NULL, **shargv = NULL;
	int status, wr, ret = 0, file_errno, argc = 0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	/* everything the child needs, found and allocated before fork */
	file = exec_resolve(argv[0]);
	file_errno = errno;
	envp = exec_env(env);
	while (argv[argc])
		argc++;
	/* a script without #! runs with /bin/sh, as execvp() would */
	shargv = calloc(argc + 2, sizeof(*shargv));
	if (!envp || !shargv) {
		free(file);
		free(envp);
		free(shargv);
		memset(res, 0, sizeof(*res));
		return -ENOMEM;
	}
	shargv[0] = "/bin/sh";
	shargv[1] = file;
	for (int i = 1; i < argc; i++)
		shargv[i + 1] = argv[i];
	/*
	 * A child that exits without reading its stdin makes our write raise
	 * SIGPIPE, which would kill the caller: keep it blocked (for this
	 * thread) while we feed the child and discard it afterwards.
	 */
	sigemptyset(&sigpipe_set);
	sigaddset(&sigpipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigpipe_set, &old_mask);
	sigpending(&pending);
	sigpipe_was_pending = sigismember(&pending, SIGPIPE);
	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) ||
	    pipe2(perr, O_CLOEXEC)) {
		ret = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0) {
		sigset_t none;

		/* own process group (killed as one); the caller's signal
		 * mask (signalfd, worker threads) is not the child's business */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		signal(SIGPIPE, SIG_DFL);
		if (file) {
			execve(file, argv, envp);
			if (errno == ENOEXEC)
				execve(shargv[0], shargv, envp);
			file_errno = errno;
		}
		fprintf(stderr, "cannot execute %s: %s%s\n", argv[0],
			strerror(file_errno), file || file_errno != ENOENT ?
			"" : " (looked for in " EXEC_PATH ")");
		_exit(127);
	}
	setpgid(pid, pid);	/* both sides: no race with kill_child() */
	close(pin[0]);
	pin[0] = -1;
	close(pout[1]);
	pout[1] = -1;
	close(perr[1]);
	perr[1] = -1;
	if (!in || !in_len) {
		close(pin[1]);
		pin[1] = -1;
	} else {
		fcntl(pin[1], F_SETFL, O_NONBLOCK);
	}

	while (!res->too_large && (pout[0] >= 0 || perr[0] >= 0)) {
		struct pollfd pfd[3];
		int n = 0, wait = -1, r;

		if (pout[0] >= 0)
			pfd[n++] = (struct pollfd){ .fd = pout[0], .events = POLLIN };
		if (perr[0] >= 0)
			pfd[n++] = (struct pollfd){ .fd = perr[0], .events = POLLIN };
		if (pin[1] >= 0)
			pfd[n++] = (struct pollfd){ .fd = pin[1], .events = POLLOUT };
		if (deadline) {
			wait = deadline - (long long)clock_mono_ms();
			if (wait <= 0) {
				timed_out = true;
				kill_child(pid);
				break;
			}
		}
		r = poll(pfd, n, wait);
		if (r < 0 && errno != EINTR) {
			ret = -errno;
			kill_child(pid);
			break;
		}
		for (int i = 0; r > 0 && i < n && !res->too_large; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == pin[1]) {
				ssize_t w = write(pin[1], in + in_off,
						  in_len - in_off);
				if (w > 0)
					in_off += w;
				if ((w < 0 && errno != EAGAIN) ||
				    in_off >= in_len) {
					close(pin[1]);
					pin[1] = -1;
				}
				continue;
			}
			struct buf *b = pfd[i].fd == pout[0] ? &out : &err;
			int rr = buf_read(b, pfd[i].fd);

			if (rr == -EFBIG) {
				res->too_large = b == &out ? "stdout" : "stderr";
				kill_child(pid);
			}
			if (rr < 0)
				ret = rr;
			if (rr <= 0) {
				if (pfd[i].fd == pout[0]) {
					close(pout[0]);
					pout[0] = -1;
				} else {
					close(perr[0]);
					perr[0] = -1;
				}
			}
		}
	}
	wr = wait_child(pid, timed_out || res->too_large ? 0 : deadline,
			&status);
	if (wr == -ETIMEDOUT)
		timed_out = true;
	else if (wr < 0 && !ret)
		ret = wr;
	if (WIFEXITED(status))
		res->status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->status = 128 + WTERMSIG(status);
	if (timed_out && !res->too_large)
		ret = -ETIMEDOUT;
out:
	for (int i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	sigpending(&pending);
	if (!sigpipe_was_pending && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = { 0 };

		sigtimedwait(&sigpipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	free(file);
	free(envp);
	free(shargv);
	res->out = out.p ? out.p : strdup("");
	res->out_len = out.len;
	res->err = err.p ? err.p : strdup("");
	res->err_len = err.len;
	return ret;
}

void exec_result_free(struct exec_result *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

char *exec_argv_str(char *const argv[])
{
	size_t len = 1;
	char *s, *p;
	int i;

	for (i = 0; argv[i]; i++)
		len += strlen(argv[i]) * 4 + 3;
	s = p = malloc(len);
	if (!s)
		return NULL;
	for (i = 0; argv[i]; i++) {
		const char *a = argv[i];
		bool quote = !*a || strpbrk(a, " \t\n'\"\\$*?;&|<>()[]{}#~!`");

		if (i)
			*p++ = ' ';
		if (!quote) {
			p = stpcpy(p, a);
			continue;
		}
		*p++ = '\'';
		for (; *a; a++) {
			if (*a == '\'') {
				p = stpcpy(p, "'\\''");
			} else {
				*p++ = *a;
			}
		}
		*p++ = '\'';
	}
	*p = '\0';
	return s;
}
