/* SPDX-License-Identifier: MIT */
/*
 * How a launcher starts the VMM image: boxy.efi before the OS (early boot)
 * or boxy.ko on a running Linux (late launch). Plain C11 like abi.h, so
 * the C++ loader and VMM (include/boxy/boot_protocol.hpp) and the C kernel
 * module share one definition.
 *
 * The VMM is a position-independent flat binary (vmm/image/vmm.ld). It
 * starts with struct boxy_vmm_image_header; the launcher copies it to the
 * start of the VMM region (physically contiguous, 4 KiB aligned), zeroes the
 * rest up to memory_size, applies the R_X86_64_RELATIVE relocations the
 * header lists, and calls with the System V ABI, at the physical addresses
 * the image was loaded to, with the region identity-mapped:
 *   int32_t vmm_init(struct boxy_boot_info *)           once
 *   int32_t vmm_start_cpu(struct boxy_launch_context *)  on every CPU
 * vmm_start_cpu switches to the VMM's own page tables and returns only on
 * failure; on success the calling CPU continues at guest_rip/guest_rsp as
 * the host VM, with its page tables (CR3) as they were at the call.
 */
#ifndef BOXY_LAUNCH_H
#define BOXY_LAUNCH_H

#include "abi.h"

#define BOXY_VMM_IMAGE_MAGIC 0x59584F42u /* "BOXY" */
#define BOXY_VMM_IMAGE_VERSION 1u
#define BOXY_BOOT_INFO_MAGIC 0x49544F42u /* "BOTI" */

/* boxy_boot_info.flags */
/* Started by boxy.ko on a running host: CPUs may leave the VMM again
 * (BOXY_CALL_STOP_CPU) and its memory then goes back to the host. */
#define BOXY_BOOT_FLAG_LATE_LAUNCH 0x1u

/* vmm_init / vmm_start_cpu results (VmmStatus in C++). */
#define BOXY_VMM_OK 0
#define BOXY_VMM_BAD_BOOT_INFO 1
#define BOXY_VMM_OUT_OF_MEMORY 2
#define BOXY_VMM_UNSUPPORTED_CPU 3 /* no usable SVM/VMX: the serial log says why */
#define BOXY_VMM_BAD_CPU 4
#define BOXY_VMM_ALREADY_RUNNING 5

/* NOLINTBEGIN(readability-identifier-naming): named the C way */
struct boxy_vmm_image_header {
    boxy_u32 magic;
    boxy_u32 version;
    boxy_u64 file_size;        /* bytes present in the flat binary */
    boxy_u64 memory_size;      /* bytes the image occupies once loaded (with .bss) */
    boxy_u64 init_offset;      /* vmm_init */
    boxy_u64 start_cpu_offset; /* vmm_start_cpu */
    boxy_u64 rela_offset;      /* Elf64_Rela[] of R_X86_64_RELATIVE entries */
    boxy_u64 rela_size;        /* bytes */
};

struct boxy_boot_info {
    boxy_u32 magic;
    boxy_u32 cpu_count; /* CPU indices 0..cpu_count-1 may call vmm_start_cpu */
    boxy_u64 vmm_base;  /* physical base of the VMM region */
    boxy_u64 vmm_size;  /* bytes, image included */
    boxy_u64 phys_top;  /* end of what the host VM's nested tables cover */
    boxy_u32 log_level; /* 0 errors .. 3 debug */
    boxy_u32 flags;     /* BOXY_BOOT_FLAG_* */
};

/* Per CPU: where the CPU continues as the host VM once virtualized. */
struct boxy_launch_context {
    boxy_u64 guest_rip;
    boxy_u64 guest_rsp;
    boxy_u32 cpu_index;
    boxy_u32 reserved;
};
/* NOLINTEND(readability-identifier-naming) */

BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_vmm_image_header) == 56, "image header size");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_boot_info) == 40, "boot info size");
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_boot_info, flags) == 36, "boot info flags");
BOXY_ABI_STATIC_ASSERT(sizeof(struct boxy_launch_context) == 24, "launch context size");
/* boxy.ko's trampoline and loader/launch.S store guest_rip and guest_rsp. */
BOXY_ABI_STATIC_ASSERT(BOXY_ABI_OFFSETOF(struct boxy_launch_context, guest_rsp) == 8,
                       "launch context guest_rsp");

#endif /* BOXY_LAUNCH_H */
