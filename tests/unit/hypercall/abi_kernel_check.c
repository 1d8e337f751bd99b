/* SPDX-License-Identifier: MIT */
/*
 * include/boxy/abi.h as boxy.ko includes it: with __KERNEL__ defined it
 * takes __u32/__u64 from <linux/types.h> (here the UAPI copy, which
 * defines the same names as the kernel's) and needs no libc header.
 * Compile-only.
 */
#include <boxy/abi.h>

#ifdef _STDINT_H
#error "abi.h pulled in <stdint.h> under __KERNEL__"
#endif

struct boxy_cpu_stats boxy_kernel_check_stats;
__u64 boxy_kernel_check_first = sizeof boxy_kernel_check_stats.exits_by_reason[0];
