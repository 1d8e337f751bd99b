/* SPDX-License-Identifier: MIT
 *
 * [[noreturn]] void boxy_resume_native(const NativeState* state)
 *
 * The last step of leaving the VMM (vmm/core/native_state.hpp): load the
 * guest's control registers, descriptor tables and segments into the CPU
 * and IRETQ to the guest's RIP with its RSP and RFLAGS. Runs on the VMM's
 * stack at the VMM's physical addresses; from the CR3 write on, the guest's
 * page tables must map both there (BOXY_CALL_STOP_CPU's contract). Segment
 * loads after LGDT read the guest's GDT; CS and SS come from the IRETQ frame
 * (SDM Vol. 3, 6.14.3: in 64-bit mode IRET always pops SS:RSP).
 */
#include "image/gprs.inc"

    .text
    .globl boxy_resume_native
    .type boxy_resume_native, @function
boxy_resume_native:
    mov 160(%rdi), %rax
    mov %rax, %cr3
    mov 168(%rdi), %rax
    mov %rax, %cr4
    mov 152(%rdi), %rax
    mov %rax, %cr0
    lgdt 246(%rdi)              /* &gdtr.limit */
    lidt 262(%rdi)              /* &idtr.limit */
    mov 192(%rdi), %rax
    mov %ax, %ds
    mov 200(%rdi), %rax
    mov %ax, %es
    mov 208(%rdi), %rax
    mov %ax, %fs
    mov 216(%rdi), %rax
    mov %ax, %gs
    /* A selector load sets the base from the descriptor; 64-bit code keeps
     * its FS/GS bases in the MSRs (SDM Vol. 3, 3.4.4.1). */
    mov $0xC0000100, %ecx       /* IA32_FS_BASE */
    mov 224(%rdi), %eax
    mov 228(%rdi), %edx
    wrmsr
    mov $0xC0000101, %ecx       /* IA32_GS_BASE */
    mov 232(%rdi), %eax
    mov 236(%rdi), %edx
    wrmsr
    pushq 184(%rdi)             /* SS */
    pushq 136(%rdi)             /* RSP */
    pushq 144(%rdi)             /* RFLAGS */
    pushq 176(%rdi)             /* CS */
    pushq 128(%rdi)             /* RIP */
    mov 0(%rdi), %rax
    load_gprs %rdi
    mov 56(%rdi), %rdi
    iretq
    .size boxy_resume_native, . - boxy_resume_native
    .section .note.GNU-stack, "", @progbits
