/* SPDX-License-Identifier: MIT
 *
 * Small pieces of the VMM that need instructions C++ cannot express:
 * switching stacks, reloading segment registers, and the exception entry
 * points of the VMM's own IDT.
 */
    .text

/* [[noreturn]] void boxy_switch_stack(uint64_t top, void (*fn)(void*), void* arg) */
    .globl boxy_switch_stack
    .type boxy_switch_stack, @function
boxy_switch_stack:
    mov %rdi, %rsp
    mov %rdx, %rdi
    xor %ebp, %ebp              /* end of the frame-pointer chain */
    call *%rsi
    ud2
    .size boxy_switch_stack, . - boxy_switch_stack

/* void boxy_load_gdt(const void* gdtr, uint64_t code_selector, uint64_t data_selector)
 * LGDT, then reload CS with a far return and the data segments (SDM Vol. 3,
 * 3.4.3: a segment register caches its descriptor until reloaded). */
    .globl boxy_load_gdt
    .type boxy_load_gdt, @function
boxy_load_gdt:
    lgdt (%rdi)
    mov %dx, %ds
    mov %dx, %es
    mov %dx, %ss
    pop %rax                    /* our return address */
    push %rsi
    push %rax
    lretq
    .size boxy_load_gdt, . - boxy_load_gdt

/* Exception entry: push a dummy error code where the CPU pushes none (SDM
 * Vol. 3, 6.13 "Error Code"), then the vector, and go to C++. NMIs are the
 * VMM's own wake-ups and simply return. */
.macro isr vector, has_error
    .align 16
boxy_isr_\vector:
    .if \has_error == 0
    push $0
    .endif
    push $\vector
    jmp boxy_isr_common
.endm

isr 0,0
isr 1,0
isr 2,0
isr 3,0
isr 4,0
isr 5,0
isr 6,0
isr 7,0
isr 8,1
isr 9,0
isr 10,1
isr 11,1
isr 12,1
isr 13,1
isr 14,1
isr 15,0
isr 16,0
isr 17,1
isr 18,0
isr 19,0
isr 20,0
isr 21,1
isr 22,0
isr 23,0
isr 24,0
isr 25,0
isr 26,0
isr 27,0
isr 28,0
isr 29,1
isr 30,1
isr 31,0
isr 32,0                        /* any external interrupt: spurious here */

boxy_isr_common:
    cmpq $2, (%rsp)
    je 1f
    cmpq $32, (%rsp)
    je 1f
    push %rax
    push %rcx
    push %rdx
    push %rbx
    push %rbp
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi              /* ExceptionFrame* */
    and $-16, %rsp
    call boxy_vmm_exception     /* [[noreturn]]: prints and halts */
    ud2
1:  add $16, %rsp
    iretq

    .section .data.rel.ro, "aw"
    .align 8
    .globl boxy_isr_table
boxy_isr_table:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32
    .quad boxy_isr_\v
    .endr
    .section .note.GNU-stack, "", @progbits
