/* SPDX-License-Identifier: MIT
 *
 * int32_t boxy_launch(int32_t (*start_cpu)(LaunchContext*), LaunchContext* ctx)
 *
 * Virtualizes the calling CPU in place. The VMM captures this CPU's state
 * and resumes it as a guest at label 1 below, on this very stack: from the
 * caller's point of view boxy_launch returns 0, and the code after it runs
 * in the host VM. If the VMM refuses, start_cpu returns its error and so
 * does boxy_launch. The callee-saved registers are on the stack, so their
 * values at the VM entry do not matter.
 */
    .text
    .globl boxy_launch
    .type boxy_launch, @function
boxy_launch:
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    pushfq
    lea 1f(%rip), %rax
    mov %rax, 0(%rsi)           /* ctx->guest_rip */
    mov %rsp, 8(%rsi)           /* ctx->guest_rsp */
    mov %rdi, %rax
    mov %rsi, %rdi
    call *%rax                  /* returns only on failure */
    jmp 2f
1:  xor %eax, %eax              /* here the CPU runs as the host VM */
2:  popfq
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    ret
    .size boxy_launch, . - boxy_launch
    .section .note.GNU-stack, "", @progbits
