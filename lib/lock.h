/* SPDX-License-Identifier: Apache-2.0 */
/* One lock serialises every flowctl invocation that changes the meter. */
#ifndef FLOWCTL_LOCK_H
#define FLOWCTL_LOCK_H

#define FLOWCTL_RUN_DIR		"/var/run/flowctl"
#define FLOWCTL_LOCK_FILE	FLOWCTL_RUN_DIR "/lock"

/* Take the lock (waits up to TIMEOUT_S seconds).  Returns an fd or -errno. */
int flowctl_lock(int timeout_s);
void flowctl_unlock(int fd);

#endif
