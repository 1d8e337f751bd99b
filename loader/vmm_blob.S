/* SPDX-License-Identifier: MIT
 * The VMM image (vmm/image/vmm.ld), embedded so that installing Boxy is one
 * file. BOXY_VMM_BIN is the path of the flat binary, set by CMake. */
    .section .rodata
    .balign 4096
    .globl boxy_vmm_image_start
boxy_vmm_image_start:
    .incbin BOXY_VMM_BIN
    .globl boxy_vmm_image_end
boxy_vmm_image_end:
    .section .note.GNU-stack, "", @progbits
