/* SPDX-License-Identifier: MIT */
/*
 * Late launch: boxy.ko starts the VMM on a running Linux (boxy_late.c).
 */
#ifndef BOXY_LATE_H
#define BOXY_LATE_H

#include <linux/types.h>

/* Starts the VMM on every online CPU and on CPUs that come online later. */
int boxy_late_start(void);
/* Returns every CPU to native execution and frees the VMM's memory. */
void boxy_late_stop(void);

/* The hypercall instruction, chosen once by CPU vendor (boxy_main.c). */
struct boxy_hypercall_regs {
	unsigned long rdi, rsi, rdx, r10, r8, r9;
};
unsigned long boxy_hypercall(unsigned long call,
			     struct boxy_hypercall_regs *regs);
const char *boxy_status_name(unsigned long status);

#endif /* BOXY_LATE_H */
