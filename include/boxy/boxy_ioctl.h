/* SPDX-License-Identifier: MIT */
/*
 * /dev/boxy ioctls: the interface between boxy.ko (drivers/linux/boxy.c) and
 * host tools such as boxyctl (tools/boxyctl). Each ioctl maps to one
 * hypercall of include/boxy/abi.h, and its number is that call's number, so
 * that the two lists grow together.
 *
 * Plain C11 with fixed-width types only, so that the same header serves the
 * kernel (__KERNEL__, through abi.h's <linux/types.h>), C and C++ tools, and
 * 32-bit processes on a 64-bit kernel: every struct has the same layout on
 * i386 and x86-64 (no implicit padding, 64-bit fields at 8-byte offsets),
 * which the static assertions below pin.
 *
 * Errors are the usual negative errno values from ioctl(2); docs in
 * drivers/linux/README.md.
 */
#ifndef BOXY_IOCTL_H
#define BOXY_IOCTL_H

#include "abi.h"

#include <linux/ioctl.h> /* _IOR/_IOWR: the kernel's and the uapi header agree */

/*
 * 0xBB: free in Documentation/userspace-api/ioctl/ioctl-number.rst (6.1).
 * Boxy uses sequence numbers 0x00-0x4F, the hypercall call-number range.
 */
#define BOXY_IOCTL_MAGIC 0xBB

/* BOXY_IOCTL_VERSION: BOXY_CALL_VERSION. Nothing in; everything out. */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_ioctl_version {
    boxy_u32 abi_version;        /* the VMM's BOXY_ABI_VERSION (major << 16 | minor) */
    boxy_u32 cpu_count;          /* CPUs under Boxy; cpu indices are 0..cpu_count-1 */
    boxy_u64 features;           /* BOXY_FEATURE_* bits the VMM reports */
    boxy_u32 driver_abi_version; /* BOXY_ABI_VERSION that boxy.ko was built against */
    boxy_u32 reserved;           /* zero */
};

/*
 * BOXY_IOCTL_GET_STATS: BOXY_CALL_GET_STATS for one CPU. In: cpu_index (below
 * boxy_ioctl_version.cpu_count, else EINVAL) and reserved (must be zero,
 * else EINVAL). Out: stats, as the VMM wrote it (stats.size bytes; the rest
 * is zero).
 */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_ioctl_stats {
    boxy_u32 cpu_index;          /* in */
    boxy_u32 reserved;           /* in: zero */
    struct boxy_cpu_stats stats; /* out */
};

#define BOXY_IOCTL_VERSION _IOR(BOXY_IOCTL_MAGIC, BOXY_CALL_VERSION, struct boxy_ioctl_version)
#define BOXY_IOCTL_GET_STATS _IOWR(BOXY_IOCTL_MAGIC, BOXY_CALL_GET_STATS, struct boxy_ioctl_stats)

BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_version, abi_version) == 0,
                       "boxy_ioctl_version.abi_version");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_version, cpu_count) == 4,
                       "boxy_ioctl_version.cpu_count");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_version, features) == 8,
                       "boxy_ioctl_version.features");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_version, driver_abi_version) == 16,
                       "boxy_ioctl_version.driver_abi_version");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_version, reserved) == 20,
                       "boxy_ioctl_version.reserved");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_ioctl_version) == 24, "boxy_ioctl_version size");

BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_stats, cpu_index) == 0,
                       "boxy_ioctl_stats.cpu_index");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_stats, reserved) == 4,
                       "boxy_ioctl_stats.reserved");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_stats, stats) == 8,
                       "boxy_ioctl_stats.stats");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_ioctl_stats) == 8 + sizeof(struct boxy_cpu_stats),
                       "boxy_ioctl_stats size");

#endif /* BOXY_IOCTL_H */
