/* SPDX-License-Identifier: MIT */
/*
 * /dev/boxy ioctls: the interface between boxy.ko (drivers/linux/) and
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

/*
 * Service VMs (drivers/linux/README.md, "Service VMs"), as in KVM: /dev/boxy
 * creates a VM and returns its file descriptor; the VM fd creates vCPUs and
 * returns theirs. Closing the last fd of a VM (including when its process
 * dies, even by SIGKILL) stops its vCPUs, reclaims (zeroes) and unpins its
 * memory and destroys it in the VMM. Each VM holds a reference on boxy.ko,
 * so rmmod refuses while a VM exists.
 */

/* BOXY_IOCTL_VM_CREATE on /dev/boxy: returns a new VM fd (O_CLOEXEC). */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_ioctl_vm_create {
    boxy_u64 memory_size; /* in: guest-physical size, BOXY_CALL_VM_CREATE RDI */
    boxy_u32 vcpu_count;  /* in: 1..BOXY_MAX_VCPUS */
    boxy_u32 flags;       /* in: zero */
    boxy_u64 tsc_khz;     /* out: the host's TSC frequency (guests see the host TSC) */
    boxy_u32 handle;      /* out: the VMM's VM handle, for logs */
    boxy_u32 reserved;    /* zero */
};

/*
 * BOXY_IOCTL_SET_MEMORY on a VM fd: pins [user_address, user_address + size)
 * of the calling process (anonymous or shared memory, writable, 4 KiB
 * aligned) and donates it to the VM at guest_address, in batches of
 * BOXY_DONATE_MAX_PAGES. The process keeps its mapping (it serves the
 * virtqueues); the pages stay pinned until the VM ends. Regions must not
 * overlap (EEXIST). On an error nothing stays donated or pinned.
 */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_ioctl_memory {
    boxy_u64 guest_address;
    boxy_u64 size;
    boxy_u64 user_address;
    boxy_u64 flags; /* zero */
};

/*
 * BOXY_IOCTL_VCPU_CREATE on a VM fd: argument = vCPU index; returns a vCPU
 * fd. mmap() of the vCPU fd at offset 0, length 4096, gives its struct
 * boxy_vcpu_run (read and write).
 */

/*
 * BOXY_IOCTL_INJECT on a VM fd: BOXY_CALL_INJECT_INTERRUPT, then wakes the
 * vCPU's thread if it sleeps in HLT or kicks its CPU if it runs.
 */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_ioctl_interrupt {
    boxy_u32 vcpu;
    boxy_u32 vector; /* 32..255 */
    boxy_u32 flags;  /* BOXY_INJECT_LEVEL */
    boxy_u32 reserved;
};

/*
 * On a vCPU fd:
 *   BOXY_IOCTL_SET_REGS / BOXY_IOCTL_GET_REGS: struct boxy_vcpu_regs.
 *   BOXY_IOCTL_RUN: runs the vCPU on the calling thread until an exit the
 *     process must handle: IO, MMIO, SHUTDOWN, EOI, FAILED (in the run
 *     page's exit_reason). HLT, KICK and INTERRUPTED are handled inside:
 *     the thread sleeps until the timer deadline or a kick; returns -EINTR
 *     when a signal is pending (exit_reason then NONE), so a process can
 *     stop its vCPU threads with a signal, as with KVM_RUN.
 */
#define BOXY_IOCTL_VM_CREATE \
    _IOWR(BOXY_IOCTL_MAGIC, BOXY_CALL_VM_CREATE, struct boxy_ioctl_vm_create)
#define BOXY_IOCTL_SET_MEMORY \
    _IOW(BOXY_IOCTL_MAGIC, BOXY_CALL_MEMORY_DONATE, struct boxy_ioctl_memory)
#define BOXY_IOCTL_VCPU_CREATE _IO(BOXY_IOCTL_MAGIC, BOXY_CALL_VCPU_CREATE)
#define BOXY_IOCTL_SET_REGS _IOW(BOXY_IOCTL_MAGIC, BOXY_CALL_VCPU_SET_REGS, struct boxy_vcpu_regs)
#define BOXY_IOCTL_GET_REGS _IOR(BOXY_IOCTL_MAGIC, BOXY_CALL_VCPU_GET_REGS, struct boxy_vcpu_regs)
#define BOXY_IOCTL_RUN _IO(BOXY_IOCTL_MAGIC, BOXY_CALL_VCPU_RUN)
#define BOXY_IOCTL_INJECT \
    _IOW(BOXY_IOCTL_MAGIC, BOXY_CALL_INJECT_INTERRUPT, struct boxy_ioctl_interrupt)

BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_ioctl_vm_create) == 32, "boxy_ioctl_vm_create size");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_ioctl_vm_create, tsc_khz) == 16,
                       "boxy_ioctl_vm_create.tsc_khz");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_ioctl_memory) == 32, "boxy_ioctl_memory size");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_ioctl_interrupt) == 16, "boxy_ioctl_interrupt size");

#endif /* BOXY_IOCTL_H */
