/* SPDX-License-Identifier: MIT
 *
 * void boxy_svm_vmrun(GuestGprs* gprs, uint64_t vmcb_pa)
 *
 * One round trip into the guest (AMD APM Vol. 2, 15.5 "VMRUN Instruction").
 * VMRUN saves and restores the host's RAX, RSP, RIP, segment, control and
 * flags state through the host save area (VM_HSAVE_PA), and loads the
 * guest's RAX, RSP, RIP from the VMCB; every other general register is ours
 * to switch. VMLOAD/VMSAVE move the state VMRUN leaves alone (FS, GS, TR,
 * LDTR, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER_*), APM 15.5.2. The
 * VMM itself never uses those, so it runs with the guest's values loaded.
 *
 * GuestGprs layout: 16 quadwords in x86 register-number order
 * (rax rcx rdx rbx rsp rbp rsi rdi r8..r15); rax and rsp live in the VMCB.
 */
#include "image/gprs.inc"

    .text
    .globl boxy_svm_vmrun
    .type boxy_svm_vmrun, @function
boxy_svm_vmrun:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                   /* the GuestGprs pointer, for the way back */
    mov %rsi, %rax              /* VMRUN, VMLOAD, VMSAVE take the VMCB in rAX */
    load_gprs %rdi
    mov 8*7(%rdi), %rdi
    vmload %rax
    vmrun %rax
    vmsave %rax
    push %rdi                   /* guest rdi */
    mov 8(%rsp), %rdi           /* GuestGprs pointer */
    store_gprs %rdi
    pop %rax
    mov %rax, 8*7(%rdi)
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .size boxy_svm_vmrun, . - boxy_svm_vmrun
    .section .note.GNU-stack, "", @progbits
