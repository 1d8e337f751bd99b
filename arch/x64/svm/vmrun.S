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
    mov 8*1(%rdi), %rcx
    mov 8*2(%rdi), %rdx
    mov 8*3(%rdi), %rbx
    mov 8*5(%rdi), %rbp
    mov 8*6(%rdi), %rsi
    mov 8*8(%rdi), %r8
    mov 8*9(%rdi), %r9
    mov 8*10(%rdi), %r10
    mov 8*11(%rdi), %r11
    mov 8*12(%rdi), %r12
    mov 8*13(%rdi), %r13
    mov 8*14(%rdi), %r14
    mov 8*15(%rdi), %r15
    mov 8*7(%rdi), %rdi
    vmload %rax
    vmrun %rax
    vmsave %rax
    push %rdi                   /* guest rdi */
    mov 8(%rsp), %rdi           /* GuestGprs pointer */
    mov %rcx, 8*1(%rdi)
    mov %rdx, 8*2(%rdi)
    mov %rbx, 8*3(%rdi)
    mov %rbp, 8*5(%rdi)
    mov %rsi, 8*6(%rdi)
    mov %r8, 8*8(%rdi)
    mov %r9, 8*9(%rdi)
    mov %r10, 8*10(%rdi)
    mov %r11, 8*11(%rdi)
    mov %r12, 8*12(%rdi)
    mov %r13, 8*13(%rdi)
    mov %r14, 8*14(%rdi)
    mov %r15, 8*15(%rdi)
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
