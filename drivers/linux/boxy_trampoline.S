/* SPDX-License-Identifier: MIT
 *
 * int boxy_launch_trampoline(u64 start_cpu, struct boxy_launch_context *ctx)
 *
 * Virtualizes the calling CPU in place (include/boxy/launch.h): calls the
 * VMM's vmm_start_cpu at its physical address `start_cpu` (the caller runs
 * on boxy.ko's launch page tables, which map it there). The VMM captures
 * this CPU's state and resumes it as the host VM at label 1 below, on this
 * very stack, so from the caller's point of view the function returns 0.
 * If the VMM refuses, vmm_start_cpu's status is returned. The callee-saved
 * registers are on the stack, so their values at the VM entry do not
 * matter. The same shape as loader/launch.S; objtool cannot follow a
 * return that arrives through a VM entry, hence OBJECT_FILES_NON_STANDARD
 * for this file in Kbuild.
 */
#include <linux/linkage.h>
#include <asm/nospec-branch.h>

	.text
SYM_FUNC_START(boxy_launch_trampoline)
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	pushfq
	lea 1f(%rip), %rax
	mov %rax, 0(%rsi)		/* ctx->guest_rip */
	mov %rsp, 8(%rsi)		/* ctx->guest_rsp */
	mov %rdi, %rax
	mov %rsi, %rdi
	CALL_NOSPEC rax			/* returns only on failure */
	jmp 2f
1:	xor %eax, %eax			/* here the CPU runs as the host VM */
2:	popfq
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	RET
SYM_FUNC_END(boxy_launch_trampoline)
