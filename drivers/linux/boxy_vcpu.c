// SPDX-License-Identifier: MIT
/*
 * Service VMs: the vCPU file descriptor (README.md, "Service VMs").
 *
 * A vCPU fd runs its vCPU on the calling thread (BOXY_IOCTL_RUN, a loop
 * like KVM_RUN), gets and sets its registers and maps its run page, the
 * page the VMM writes on every exit. The loop handles inside what needs no
 * device model: a physical interrupt (run again), a kick of sibling vCPUs
 * and HLT (sleep until the guest's timer deadline or a kick). Everything
 * else goes back to the process.
 *
 * Kicks: the VMM makes an interrupt pending in a vCPU's local APIC (INJECT,
 * or a sibling's IPI, which exits with KICK); boxy.ko then sets the vCPU's
 * kicked flag, wakes its thread if it sleeps in HLT and, if it runs the
 * guest on another CPU, interrupts that CPU so that the VMM re-enters the
 * guest with the interrupt. A full barrier on each side (in
 * boxy_vcpu_enter() and boxy_vcpu_kick()) makes sure that either the VMM
 * sees the pending interrupt when it enters, or the kicker sees where the
 * vCPU runs and that kicked lands after the entry cleared it: no kick is
 * lost.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/hrtimer.h>
#include <linux/io.h>
#include <linux/irqflags.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/time64.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include <asm/fpu/api.h>
#include <asm/msr.h>
#include <asm/tsc.h>

#include <boxy/abi.h>
#include <boxy/boxy_ioctl.h>

#include "boxy_late.h"
#include "boxy_vm.h"

/*
 * The longest one timer or HLT sleep lasts; a later deadline is waited for
 * in several. It also keeps the TSC-to-nanosecond conversion within 64
 * bits (on x86 mul_u64_u32_div divides with DIV, which faults on an
 * overflowing quotient).
 */
#define BOXY_MAX_WAIT_SECONDS 3600u

/* Nanoseconds from now to a host-TSC deadline; 0 if it has passed. */
static u64 boxy_ns_until(u64 deadline_tsc)
{
	const u32 khz = tsc_khz; /* checked non-zero at VM_CREATE */
	const u64 now = rdtsc();
	u64 ticks;

	if (deadline_tsc <= now || khz == 0)
		return 0;
	ticks = min_t(u64, deadline_tsc - now,
		      (u64)khz * MSEC_PER_SEC * BOXY_MAX_WAIT_SECONDS);
	return mul_u64_u32_div(ticks, NSEC_PER_MSEC, khz);
}

/*
 * The interrupt that runs this did the work: it made the VMM leave the
 * guest (INTERRUPTED), and the next entry re-arms from the run page.
 */
static enum hrtimer_restart boxy_vcpu_timer_fn(struct hrtimer *timer)
{
	return HRTIMER_NORESTART;
}

void boxy_vcpu_kick(struct boxy_vcpu *vcpu)
{
	int cpu, me;

	WRITE_ONCE(vcpu->kicked, true);
	/* Pairs with the barrier in boxy_vcpu_enter() (top of the file). */
	smp_mb();
	wake_up_interruptible(&vcpu->wait);
	cpu = READ_ONCE(vcpu->cpu);
	me = get_cpu();
	/* Any interrupt makes the VMM leave the guest; this one is cheap. */
	if (cpu >= 0 && cpu != me && cpu_online(cpu))
		smp_send_reschedule(cpu);
	put_cpu();
}

/* KICK: bit i of mask, vCPU i has an interrupt or a start-up IPI to take. */
static void boxy_vcpu_kick_mask(struct boxy_vm *vm, u64 mask)
{
	/* The run page is writable by the process: bound the mask. */
	const unsigned long bits = mask;
	unsigned int i;

	for_each_set_bit(i, &bits, vm->vcpu_count) {
		/* Pairs with the release in boxy_vcpu_create(). */
		struct boxy_vcpu *vcpu = smp_load_acquire(&vm->vcpus[i]);

		/* Not made yet: its first RUN finds the interrupt pending. */
		if (vcpu)
			boxy_vcpu_kick(vcpu);
	}
}

/* One VCPU_RUN. Returns the status; *exit_reason is the VMM's RDI. */
static unsigned long boxy_vcpu_enter(struct boxy_vcpu *vcpu,
				     unsigned long *exit_reason)
{
	struct boxy_hypercall_regs regs = {
		.rdi = vcpu->vm->handle,
		.rsi = vcpu->index,
	};
	const u64 deadline = READ_ONCE(vcpu->run->timer_deadline_tsc);
	struct rw_semaphore *memory_sem = &vcpu->vm->memory_sem;
	unsigned long status;
	bool timer = false;
	u64 ns;

	/* Waits while SET_MEMORY changes the VM's memory (boxy_vm.h). */
	if (down_read_interruptible(memory_sem)) {
		*exit_reason = BOXY_VM_EXIT_INTERRUPTED; /* the loop sees why */
		return BOXY_STATUS_OK;
	}
	/*
	 * The VMM loads the guest's x87/SSE state into this CPU and leaves it
	 * there (it does not restore the host's; the guest may touch AVX
	 * state too): save the task's FPU state first, so that it is
	 * reloaded from memory on the way back to user space. This also
	 * disables preemption, which kicks need: they must find the CPU that
	 * runs the guest.
	 */
	kernel_fpu_begin();
	/*
	 * Pinned: the timer must interrupt this CPU. A deadline already
	 * past needs none; the VMM delivers an expired timer on entry.
	 */
	ns = deadline ? boxy_ns_until(deadline) : 0;
	if (ns) {
		hrtimer_start(&vcpu->timer, ns_to_ktime(ns),
			      HRTIMER_MODE_REL_PINNED_HARD);
		timer = true;
	}
	WRITE_ONCE(vcpu->cpu, smp_processor_id());
	WRITE_ONCE(vcpu->kicked, false);
	/* Pairs with the barrier in boxy_vcpu_kick() (top of the file). */
	smp_mb();
	/*
	 * The last look, with interrupts off: from here on an IPI (a kick, a
	 * signal, a reschedule) stays pending and makes the VMM leave the
	 * guest as soon as it enters, so none waits for the next tick. The
	 * VMM takes physical interrupts while the guest runs whatever the
	 * host's IF; they reach the host when it enables them again.
	 */
	local_irq_disable();
	if (signal_pending(current) || need_resched()) {
		status = BOXY_STATUS_OK;
		regs.rdi = BOXY_VM_EXIT_INTERRUPTED;
	} else {
		status = boxy_hypercall(BOXY_CALL_VCPU_RUN, &regs);
	}
	local_irq_enable();
	WRITE_ONCE(vcpu->cpu, -1);
	if (timer)
		hrtimer_cancel(&vcpu->timer);
	kernel_fpu_end();
	up_read(memory_sem);
	*exit_reason = regs.rdi;
	return status;
}

/* HLT: sleep until the guest's timer deadline, a kick or a signal. */
static void boxy_vcpu_halt(struct boxy_vcpu *vcpu)
{
	const u64 deadline = READ_ONCE(vcpu->run->timer_deadline_tsc);
	ktime_t timeout = KTIME_MAX; /* no deadline: no timer */
	u64 ns;

	if (deadline) {
		ns = boxy_ns_until(deadline);
		if (!ns)
			return; /* due: the next entry delivers it */
		timeout = ns_to_ktime(ns);
	}
	/* A signal ends the sleep; the run loop then returns -EINTR. */
	(void)wait_event_interruptible_hrtimeout(
		vcpu->wait, READ_ONCE(vcpu->kicked), timeout);
}

/*
 * Handles the exits that need no device model; false: the process handles
 * it (IO, MMIO, SHUTDOWN, EOI, FAILED and reasons newer than this driver),
 * reading the run page. The reason is the VMM's RDI, not the run page's
 * copy, which the process may have overwritten.
 */
static bool boxy_vcpu_exit_handled(struct boxy_vcpu *vcpu, unsigned long reason)
{
	switch (reason) {
	case BOXY_VM_EXIT_INTERRUPTED:
		return true;
	case BOXY_VM_EXIT_KICK:
		boxy_vcpu_kick_mask(vcpu->vm,
				    READ_ONCE(vcpu->run->u.kick.vcpus));
		return true;
	case BOXY_VM_EXIT_HLT:
		boxy_vcpu_halt(vcpu);
		return true;
	default:
		return false;
	}
}

static long boxy_vcpu_run(struct boxy_vcpu *vcpu)
{
	struct boxy_vcpu_run *run = vcpu->run;
	unsigned long status, reason;
	long ret;

	if (!mutex_trylock(&vcpu->run_lock))
		return -EBUSY;
	for (;;) {
		/* As KVM_RUN: a signal stops the vCPU for its thread. */
		if (signal_pending(current)) {
			WRITE_ONCE(run->exit_reason, BOXY_VM_EXIT_NONE);
			ret = -EINTR;
			break;
		}
		cond_resched();
		status = boxy_vcpu_enter(vcpu, &reason);
		if (status != BOXY_STATUS_OK) {
			ret = boxy_vm_status_errno("VCPU_RUN", status);
			break;
		}
		if (!boxy_vcpu_exit_handled(vcpu, reason)) {
			ret = 0;
			break;
		}
	}
	mutex_unlock(&vcpu->run_lock);
	return ret;
}

/* SET_REGS (set) or GET_REGS on the vCPU's struct boxy_vcpu_regs. */
static long boxy_vcpu_regs(struct boxy_vcpu *vcpu,
			   struct boxy_vcpu_regs __user *uarg, bool set)
{
	struct boxy_hypercall_regs regs = {
		.rdi = vcpu->vm->handle,
		.rsi = vcpu->index,
	};
	struct boxy_vcpu_regs *buf;
	unsigned long status;
	long ret;

	/*
	 * The VMM takes a physical address: kmalloc memory is contiguous and
	 * in the direct map (a kernel stack may be vmalloc'ed). Zeroed, so a
	 * VMM that fills less leaks nothing to the process.
	 */
	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (set) {
		if (copy_from_user(buf, uarg, sizeof(*buf))) {
			ret = -EFAULT;
			goto out;
		}
		if (buf->reserved != 0) {
			ret = -EINVAL;
			goto out;
		}
	}
	/* Not while this vCPU runs, or sleeps in HLT inside RUN. */
	if (!mutex_trylock(&vcpu->run_lock)) {
		ret = -EBUSY;
		goto out;
	}
	regs.rdx = virt_to_phys(buf);
	status = boxy_hypercall(
		set ? BOXY_CALL_VCPU_SET_REGS : BOXY_CALL_VCPU_GET_REGS, &regs);
	mutex_unlock(&vcpu->run_lock);
	ret = boxy_vm_status_errno(set ? "VCPU_SET_REGS" : "VCPU_GET_REGS",
				   status);
	if (ret == 0 && !set && copy_to_user(uarg, buf, sizeof(*buf)))
		ret = -EFAULT;
out:
	kfree(buf);
	return ret;
}

static long boxy_vcpu_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct boxy_vcpu *vcpu = file->private_data;
	void __user *uarg = (void __user *)arg;

	/* Only the VM's creator, as on the VM fd (boxy_vm_ioctl()). */
	if (vcpu->vm->mm != current->mm)
		return -EIO;
	switch (cmd) {
	case BOXY_IOCTL_RUN:
		return arg ? -EINVAL : boxy_vcpu_run(vcpu);
	case BOXY_IOCTL_SET_REGS:
		return boxy_vcpu_regs(vcpu, uarg, true);
	case BOXY_IOCTL_GET_REGS:
		return boxy_vcpu_regs(vcpu, uarg, false);
	default:
		return -ENOTTY;
	}
}

/* The run page, at offset 0, one page, shared. */
static int boxy_vcpu_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct boxy_vcpu *vcpu = file->private_data;

	if (vma->vm_pgoff != 0 || vma_pages(vma) != 1)
		return -EINVAL;
	/*
	 * A private mapping would copy the page on the first write, and the
	 * process would no longer see what the VMM writes.
	 */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vma->vm_flags |= VM_DONTEXPAND;
	/* Takes a page reference: the mapping never outlives the page. */
	return vm_insert_page(vma, vma->vm_start, virt_to_page(vcpu->run));
}

/*
 * Drops the VM reference and nothing else: the VMM keeps the vCPU (and
 * writes its run page) until VM_DESTROY, and siblings may still kick it.
 */
static int boxy_vcpu_release(struct inode *inode, struct file *file)
{
	struct boxy_vcpu *vcpu = file->private_data;

	/* NULL: boxy_vcpu_create() failed and frees the vCPU itself. */
	if (vcpu)
		fput(vcpu->vm_file);
	return 0;
}

static const struct file_operations boxy_vcpu_fops = {
	.owner = THIS_MODULE,
	.release = boxy_vcpu_release,
	.unlocked_ioctl = boxy_vcpu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = boxy_vcpu_mmap,
	.llseek = noop_llseek,
};

/* vmm_released: the VMM no longer writes the run page (VM_DESTROY). */
void boxy_vcpu_free(struct boxy_vcpu *vcpu, bool vmm_released)
{
	if (vmm_released)
		free_page((unsigned long)vcpu->run);
	kfree(vcpu);
}

long boxy_vcpu_create(struct boxy_vm *vm, struct file *vm_file,
		      unsigned long index)
{
	struct boxy_hypercall_regs regs = {};
	struct boxy_vcpu *vcpu;
	unsigned long status;
	struct file *file;
	int fd, err;

	if (index >= vm->vcpu_count)
		return -EINVAL;
	vcpu = kzalloc(sizeof(*vcpu), GFP_KERNEL_ACCOUNT);
	if (!vcpu)
		return -ENOMEM;
	BUILD_BUG_ON(sizeof(*vcpu->run) > PAGE_SIZE);
	vcpu->run = (struct boxy_vcpu_run *)get_zeroed_page(GFP_KERNEL_ACCOUNT);
	if (!vcpu->run) {
		kfree(vcpu);
		return -ENOMEM;
	}
	vcpu->vm = vm;
	vcpu->index = index;
	vcpu->cpu = -1;
	mutex_init(&vcpu->run_lock);
	init_waitqueue_head(&vcpu->wait);
	hrtimer_init(&vcpu->timer, CLOCK_MONOTONIC,
		     HRTIMER_MODE_REL_PINNED_HARD);
	vcpu->timer.function = boxy_vcpu_timer_fn;

	/*
	 * The fd and its file first: once the VMM has the vCPU there is no
	 * call to take it back, so nothing may fail after VCPU_CREATE.
	 */
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		err = fd;
		goto free;
	}
	file = anon_inode_getfile("boxy-vcpu", &boxy_vcpu_fops, vcpu, O_RDWR);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto put_fd;
	}
	err = mutex_lock_killable(&vm->lock);
	if (err)
		goto put_file;
	if (vm->vcpus[index]) {
		err = -EEXIST;
		goto unlock;
	}
	regs.rdi = vm->handle;
	regs.rsi = index;
	regs.rdx = virt_to_phys(vcpu->run);
	status = boxy_hypercall(BOXY_CALL_VCPU_CREATE, &regs);
	err = boxy_vm_status_errno("VCPU_CREATE", status);
	if (err)
		goto unlock;
	/* The VM lives while this fd does. */
	vcpu->vm_file = get_file(vm_file);
	/* Fully set up before kickers can find it (smp_load_acquire). */
	smp_store_release(&vm->vcpus[index], vcpu);
	mutex_unlock(&vm->lock);
	fd_install(fd, file);
	return fd;

unlock:
	mutex_unlock(&vm->lock);
put_file:
	/* Its release (deferred) must not touch the vCPU freed below. */
	file->private_data = NULL;
	fput(file);
put_fd:
	put_unused_fd(fd);
free:
	/* The VMM never had it: the run page can go. */
	boxy_vcpu_free(vcpu, true);
	return err;
}
