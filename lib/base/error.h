/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The library's errors beyond errno.  A function returns 0 (or a count),
 * -errno, or one of these negated like errno, and prints what went wrong
 * itself; never a process exit code: the CLI alone turns an error into
 * one (flowctl's exit_code()).
 */
#ifndef FLOWCTL_ERROR_H
#define FLOWCTL_ERROR_H

enum flowctl_error {
	/*
	 * A request the user must change (exit 2 in the CLI): a bad
	 * interface, address or config, a template file that cannot be
	 * one, a flow limit conflict without --force.  Above every errno.
	 */
	FLOWCTL_EREQUEST = 4096,
};

#endif
