/* SPDX-License-Identifier: MIT */
/*
 * The Boxy hypercall ABI, shared by the VMM (C++20, freestanding), the host
 * kernel driver boxy.ko (C, Linux kernel) and host tools (C or C++). The
 * prose version, with the rules for callers, is docs/abi.md.
 *
 * Plain C11: fixed-width types, macros and structs only, so that one header
 * serves every consumer. Every struct layout is pinned with a static
 * assertion, because the VMM and its callers are built by different
 * compilers in different languages.
 */
#ifndef BOXY_ABI_H
#define BOXY_ABI_H

/* C, not C++: <stdint.h> and typedef are what both languages accept. */
/* NOLINTBEGIN(modernize-deprecated-headers,modernize-use-using) */
#ifdef __KERNEL__
#include <linux/types.h>
typedef __u32 boxy_u32;
typedef __u64 boxy_u64;
#else
#include <stdint.h>
typedef uint32_t boxy_u32;
typedef uint64_t boxy_u64;
#endif
/* NOLINTEND(modernize-deprecated-headers,modernize-use-using) */

#ifdef __cplusplus
#define BOXY_ABI_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define BOXY_ABI_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
/* GCC and Clang built-in: no <stddef.h>, which the kernel does not have. */
#define BOXY_ABI_OFFSETOF(type, member) __builtin_offsetof(type, member)

/*
 * Version. A major change breaks callers; a minor change only adds (calls,
 * feature bits, exit reasons, fields in reserved space). A caller built
 * against MAJOR.MINOR works with any VMM reporting the same major and a
 * minor >= MINOR.
 */
#define BOXY_ABI_VERSION_MAJOR 0u
#define BOXY_ABI_VERSION_MINOR 1u
/* Packed as in CPUID 0x40000001 EAX and BOXY_CALL_VERSION RDI. */
#define BOXY_ABI_VERSION ((BOXY_ABI_VERSION_MAJOR << 16) | BOXY_ABI_VERSION_MINOR)
#define BOXY_ABI_VERSION_MAJOR_OF(version) (((version) >> 16) & 0xFFFFu)
#define BOXY_ABI_VERSION_MINOR_OF(version) ((version)&0xFFFFu)

/* Feature bits (64 bits; BOXY_CALL_VERSION RSI, CPUID 0x40000001 EBX/ECX).
 * Undefined bits are reserved and read as zero. */
#define BOXY_FEATURE_GET_STATS (1ull << 0) /* BOXY_CALL_GET_STATS is served */

/*
 * CPUID (the hypervisor range, 0x40000000-0x400000FF; CPUID.1:ECX[31], the
 * "hypervisor present" bit, is set under Boxy).
 *
 * Leaf 0x40000000: EAX = highest Boxy leaf (BOXY_CPUID_MAX_LEAF),
 *                  EBX, ECX, EDX = "BoxyBoxyBoxy" (four ASCII bytes per
 *                  register, first byte in bits 7:0, as CPUID vendor
 *                  strings are stored).
 * Leaf 0x40000001: EAX = BOXY_ABI_VERSION, EBX = features bits 31:0,
 *                  ECX = features bits 63:32, EDX = 0 (reserved).
 */
#define BOXY_CPUID_LEAF_IDENTITY 0x40000000u
#define BOXY_CPUID_LEAF_VERSION 0x40000001u
#define BOXY_CPUID_MAX_LEAF BOXY_CPUID_LEAF_VERSION
/* 'B' 0x42, 'o' 0x6F, 'x' 0x78, 'y' 0x79, little endian. */
#define BOXY_CPUID_SIGNATURE_EBX 0x79786F42u
#define BOXY_CPUID_SIGNATURE_ECX 0x79786F42u
#define BOXY_CPUID_SIGNATURE_EDX 0x79786F42u

/*
 * Calling convention. VMMCALL on AMD, VMCALL on Intel (the other
 * instruction raises #UD). RAX = call number (all 64 bits); arguments in
 * RDI, RSI, RDX, R10, R8, R9, the Linux system-call argument registers, so
 * that boxy.ko wraps the instruction with the same register constraints as
 * a syscall stub. Argument registers a call does not use must be zero.
 *
 * On return RAX = BOXY_STATUS_*; on success a call's outputs are in RDI,
 * RSI, RDX. Callers treat RAX, RDI, RSI and RDX as clobbered; every other
 * register is preserved.
 *
 * Call numbers, grouped by sixteen so each group can grow:
 *   0x00-0x07  queries: VERSION 0x00, GET_STATS 0x01
 *   0x08-0x0F  VMM lifecycle: STOP_CPU 0x08
 *   0x10-0x1F  reserved: VM create/destroy
 *   0x20-0x2F  reserved: memory donate/reclaim
 *   0x30-0x3F  reserved: vCPU create, run, get/set registers
 *   0x40-0x4F  reserved: interrupt injection
 * Every number not defined here returns BOXY_STATUS_UNKNOWN_CALL.
 */
#define BOXY_CALL_VERSION 0x00u
/* In: nothing. Out: RDI = BOXY_ABI_VERSION, RSI = feature bits,
 *     RDX = number of CPUs under Boxy (valid cpu indices are 0..RDX-1). */
#define BOXY_CALL_GET_STATS 0x01u
/* In:  RDI = cpu index, RSI = guest-physical address of the buffer
 *      (8-byte aligned), RDX = buffer length in bytes, at least
 *      sizeof(struct boxy_cpu_stats), at most BOXY_GET_STATS_MAX_LENGTH.
 * Out: RDI = bytes written (struct boxy_cpu_stats.size).
 * The whole buffer must be ordinary RAM of the calling VM. */
#define BOXY_GET_STATS_MAX_LENGTH 4096u
#define BOXY_CALL_STOP_CPU 0x08u
/* In: nothing. The calling CPU leaves Boxy: it continues natively after
 * the instruction with RAX = BOXY_STATUS_OK and every other register, the
 * control registers, descriptor tables, segments and MSRs as they were in
 * the VM. Only a late-launched Boxy (started by boxy.ko) serves it; one
 * started by boxy.efi answers BOXY_STATUS_UNSUPPORTED. The VMM finishes the
 * switch on the caller's page tables, so they must map the VMM's region at
 * its physical address (supervisor, writable, executable), as boxy.ko's
 * launch page tables do (docs/abi.md, "Stopping"). Once every CPU has
 * stopped, the VMM's memory is the host's again. */

/* Return status in RAX. Zero is success; errors are small positive values. */
#define BOXY_STATUS_OK 0u
#define BOXY_STATUS_UNKNOWN_CALL 1u     /* no such call number */
#define BOXY_STATUS_DENIED 2u           /* caller may not make this call */
#define BOXY_STATUS_INVALID_ARGUMENT 3u /* e.g. an unused register not zero */
#define BOXY_STATUS_BAD_ADDRESS 4u      /* buffer address null, misaligned, wraps, not RAM */
#define BOXY_STATUS_BAD_LENGTH 5u       /* buffer too small or too large */
#define BOXY_STATUS_NO_SUCH_CPU 6u      /* cpu index >= number of CPUs */
#define BOXY_STATUS_UNSUPPORTED 7u      /* call known, but not offered here */

/*
 * Exit reasons, numbered as the VMM's vendor-neutral ExitReason
 * (vmm/exit_reason.hpp; vmm/hypercall/exit_stats.cpp checks that the two
 * lists match). New reasons are appended.
 */
#define BOXY_EXIT_CPUID 0u
#define BOXY_EXIT_MSR_READ 1u
#define BOXY_EXIT_MSR_WRITE 2u
#define BOXY_EXIT_IO 3u
#define BOXY_EXIT_NESTED_PAGE_FAULT 4u
#define BOXY_EXIT_HYPERCALL 5u
#define BOXY_EXIT_INIT 6u
#define BOXY_EXIT_SIPI 7u
#define BOXY_EXIT_XSETBV 8u
#define BOXY_EXIT_HLT 9u
#define BOXY_EXIT_SHUTDOWN 10u
#define BOXY_EXIT_VIRTUALIZATION_INSTRUCTION 11u
#define BOXY_EXIT_CR_ACCESS 12u
#define BOXY_EXIT_EXCEPTION 13u
#define BOXY_EXIT_INTERRUPT 14u
#define BOXY_EXIT_NMI 15u
#define BOXY_EXIT_INVALID_STATE 16u
#define BOXY_EXIT_OTHER 17u
#define BOXY_EXIT_REASON_COUNT 18u /* reasons this ABI version defines */

/* Room in struct boxy_cpu_stats; reasons may grow to this without a new
 * layout. */
#define BOXY_STATS_MAX_REASONS 64u

/*
 * BOXY_CALL_GET_STATS output: one CPU's VM-exit counters since Boxy
 * started. Counters of different reasons are read one by one while the CPU
 * keeps running, so they are not one instant's snapshot: total_exits may
 * differ from the sum of exits_by_reason by the exits in flight.
 */
/* NOLINTNEXTLINE(readability-identifier-naming): named the C way */
struct boxy_cpu_stats {
    boxy_u32 size;         /* bytes the VMM filled: sizeof(struct boxy_cpu_stats) */
    boxy_u32 cpu_index;    /* as passed in RDI */
    boxy_u32 apic_id;      /* the CPU's (x2)APIC ID */
    boxy_u32 reason_count; /* valid entries of exits_by_reason; the rest are zero */
    boxy_u64 total_exits;
    boxy_u64 exits_by_reason[BOXY_STATS_MAX_REASONS]; /* indexed by BOXY_EXIT_* */
};

BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, size) == 0, "boxy_cpu_stats.size");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, cpu_index) == 4,
                       "boxy_cpu_stats.cpu_index");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, apic_id) == 8,
                       "boxy_cpu_stats.apic_id");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, reason_count) == 12,
                       "boxy_cpu_stats.reason_count");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, total_exits) == 16,
                       "boxy_cpu_stats.total_exits");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_cpu_stats, exits_by_reason) == 24,
                       "boxy_cpu_stats.exits_by_reason");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_cpu_stats) == 24 + 8 * BOXY_STATS_MAX_REASONS,
                       "boxy_cpu_stats size");
BOXY_ABI_STATIC_ASSERT(BOXY_EXIT_REASON_COUNT <= BOXY_STATS_MAX_REASONS,
                       "exit reasons must fit boxy_cpu_stats");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_cpu_stats) <= BOXY_GET_STATS_MAX_LENGTH,
                       "boxy_cpu_stats must fit the largest buffer");

#endif /* BOXY_ABI_H */
