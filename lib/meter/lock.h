/* SPDX-License-Identifier: Apache-2.0 */
/* One lock serialises every flowctl invocation that changes the meter. */
#ifndef FLOWCTL_LOCK_H
#define FLOWCTL_LOCK_H

#include "rundir.h"

#define FLOWCTL_LOCK_FILE	FLOWCTL_RUN_DIR "/lock"

/* Take the lock (waits up to TIMEOUT_S seconds).  Returns an fd or -errno. */
int flowctl_lock(int timeout_s);
void flowctl_unlock(int fd);

/*
 * One agent per pin root: an flock on the pin root directory (created 0700
 * when missing), held for the agent's life.  Returns the fd to keep open,
 * -EBUSY when another agent holds it (the message names its pid), or
 * -errno.
 */
int agent_lock_take(const char *pin_root);
/*
 * Does an agent hold PIN_ROOT's lock?  0: no; > 0: the holder's pid (1 when
 * it cannot be told); -errno.  For commands that must not race an agent.
 */
int agent_lock_holder(const char *pin_root);

#endif
