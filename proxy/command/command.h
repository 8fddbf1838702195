/*
 * command.h — what proxy/command/ offers the rest of tandem: the command
 * phase: client commands to the backend and its answers back. One section
 * per topic, each opening with what its file owns.
 *
 * Owns: the declarations (and the few constants and inline helpers) of the
 * functions proxy/command/'s files define. Must not: declare anything
 * another folder defines.
 */
#ifndef TANDEM_PROXY_COMMAND_H
#define TANDEM_PROXY_COMMAND_H

#include "proxy/io/io.h"
#include "proxy/session/session_types.h"

/*
 * forward — the command phase (forward.c): client commands to the
 * backend, responses to the client, LOCAL INFILE data. Its handlers are
 * rows of the driver's table (machine.c).
 */
/* SESS_IDLE's enter (once the driver has closed a draining session and
 * parked a switched-over one): read on. */
void sess_idle_enter(struct session *s);
/* SESS_IDLE, SESS_COMMAND: the client's commands. */
void sess_idle_read(struct session *s);
/* SESS_RESULT: the backend's response. */
void sess_result_read(struct session *s);
/* SESS_LOCAL_INFILE (its enter too): the client's file data. */
void sess_infile_read(struct session *s);
/* A connection's output fell to its low mark: read the other side again. */
void sess_forward_backpressure(struct session *s, struct conn *drained);

#endif
