/* SPDX-License-Identifier: MIT
 *
 * The VMM image (build/vmm/boxy-vmm.bin, the same one boxy.efi embeds),
 * carried in boxy.ko's read-only data for late launch. BOXY_VMM_BIN is the
 * path, set by Kbuild.
 */
	.section .rodata, "a"
	.balign 4096
	.globl boxy_vmm_image_start
boxy_vmm_image_start:
	.incbin BOXY_VMM_BIN
	.globl boxy_vmm_image_end
boxy_vmm_image_end:
	.section .note.GNU-stack, "", @progbits
