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
#include "image/gprs.inc"

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
    load_gprs %rdi
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
    store_gprs %rdi
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
