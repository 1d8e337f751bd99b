/* SPDX-License-Identifier: MIT
 *
 * int boxy_vmx_enter(GuestGprs* gprs, int launched)   (arch/x64/vmx/vmx.hpp)
 *
 * VMX keeps only RSP and RIP of the guest in the VMCS; the other GPRs are
 * the VMM's to switch (SDM Vol. 3C, 27.3.1 and 28.5: VM entry and exit do
 * not touch them). The host RSP in the VMCS points at the saved `gprs`
 * pointer, so boxy_vmx_exit finds it; the host RIP is boxy_vmx_exit.
 * GuestGprs is 16 registers in x86 encoding order (vmm/core/per_cpu.hpp).
 */
    .text
    .globl boxy_vmx_enter
    .type boxy_vmx_enter, @function
boxy_vmx_enter:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                   /* gprs, found again at VM exit */
    mov $0x6C14, %eax           /* VMCS host RSP */
    vmwrite %rsp, %rax
    jbe 3f                      /* VMfail (CF or ZF set) */
    test %esi, %esi             /* MOVs below keep these flags */
    mov 0(%rdi), %rax
    mov 8(%rdi), %rcx
    mov 16(%rdi), %rdx
    mov 24(%rdi), %rbx
    mov 40(%rdi), %rbp
    mov 48(%rdi), %rsi
    mov 64(%rdi), %r8
    mov 72(%rdi), %r9
    mov 80(%rdi), %r10
    mov 88(%rdi), %r11
    mov 96(%rdi), %r12
    mov 104(%rdi), %r13
    mov 112(%rdi), %r14
    mov 120(%rdi), %r15
    mov 56(%rdi), %rdi
    jnz 1f
    vmlaunch
    jmp 3f                      /* only reached if VM entry failed */
1:  vmresume
3:  add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    mov $1, %eax
    ret
    .size boxy_vmx_enter, . - boxy_vmx_enter

    .globl boxy_vmx_exit
    .type boxy_vmx_exit, @function
boxy_vmx_exit:
    push %rdi                   /* the guest's RDI; gprs is now at 8(%rsp) */
    mov 8(%rsp), %rdi
    mov %rax, 0(%rdi)
    mov %rcx, 8(%rdi)
    mov %rdx, 16(%rdi)
    mov %rbx, 24(%rdi)
    mov %rbp, 40(%rdi)
    mov %rsi, 48(%rdi)
    mov %r8, 64(%rdi)
    mov %r9, 72(%rdi)
    mov %r10, 80(%rdi)
    mov %r11, 88(%rdi)
    mov %r12, 96(%rdi)
    mov %r13, 104(%rdi)
    mov %r14, 112(%rdi)
    mov %r15, 120(%rdi)
    pop %rax
    mov %rax, 56(%rdi)
    add $8, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    xor %eax, %eax
    ret
    .size boxy_vmx_exit, . - boxy_vmx_exit
    .section .note.GNU-stack, "", @progbits
