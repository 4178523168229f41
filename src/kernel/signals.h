/*
 * signals.h
 *		Blocking every signal on the calling thread around code that must not
 *		run PostgreSQL's handlers: thread creation in libraries (new threads
 *		inherit the mask, so the handlers never run on them) and calls into
 *		generated code that a handler's frame can upset (gemm_onednn.c).
 */
#ifndef MAAS_SIGNALS_H
#define MAAS_SIGNALS_H

#include <pthread.h>
#include <signal.h>

static inline void
maas_block_signals(sigset_t *old)
{
	sigset_t	all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
}

static inline void
maas_restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

#endif							/* MAAS_SIGNALS_H */
