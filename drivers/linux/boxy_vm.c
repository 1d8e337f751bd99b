// SPDX-License-Identifier: MIT
/*
 * Service VMs: the VM file descriptor (README.md, "Service VMs").
 *
 * BOXY_IOCTL_VM_CREATE on /dev/boxy makes a VM in the VMM and returns an
 * anonymous-inode fd for it; that fd donates memory (SET_MEMORY,
 * boxy_memory.c), makes vCPUs (VCPU_CREATE, boxy_vcpu.c) and injects
 * interrupts (INJECT). Every vCPU fd holds a reference on the VM's file,
 * so the VM's release runs only when no vCPU fd, mapping or ioctl is left:
 * then nothing can run, and the VM is reclaimed, destroyed in the VMM and
 * unpinned, in that order. A page is unpinned (and may be reused by the
 * host) only after the VMM confirmed that no VM maps it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/errno.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <asm/tsc.h>

#include <boxy/abi.h>
#include <boxy/boxy_ioctl.h>

#include "boxy_late.h"
#include "boxy_vm.h"

/*
 * The lowest vector INJECT accepts: 0-31 are the exception vectors (Intel
 * SDM Vol. 3A, 6.2), and an interrupt there would reach the guest's
 * exception handlers (the VMM refuses them too, abi.h).
 */
#define BOXY_MIN_VECTOR 32u
#define BOXY_MAX_VECTOR 255u

/*
 * One helper for every service-VM call. Arguments from user space are
 * checked before each call, so only NO_MEMORY, BUSY and EXISTS are
 * ordinary answers; the rest mean that the request hit a limit only the
 * VMM knows (SET_REGS' state checks) or that boxy.ko and the VMM disagree,
 * which is worth a line in the log.
 */
int boxy_vm_status_errno(const char *call, unsigned long status)
{
	switch (status) {
	case BOXY_STATUS_OK:
		return 0;
	case BOXY_STATUS_NO_MEMORY:
		return -ENOMEM;
	case BOXY_STATUS_BUSY:
		return -EBUSY;
	case BOXY_STATUS_EXISTS:
		return -EEXIST;
	default:
		break;
	}
	pr_warn_ratelimited("%s hypercall failed: %s (%lu)\n", call,
			    boxy_status_name(status), status);
	switch (status) {
	case BOXY_STATUS_INVALID_ARGUMENT:
	case BOXY_STATUS_BAD_ADDRESS:
	case BOXY_STATUS_BAD_LENGTH:
	case BOXY_STATUS_NO_SUCH_CPU:
		return -EINVAL;
	case BOXY_STATUS_NO_SUCH_VM:
	case BOXY_STATUS_NO_SUCH_VCPU:
		return -ENOENT;
	case BOXY_STATUS_DENIED:
		return -EPERM;
	case BOXY_STATUS_UNKNOWN_CALL:
	case BOXY_STATUS_UNSUPPORTED:
		return -EOPNOTSUPP;
	default:
		/* A status newer than this driver. */
		return -EIO;
	}
}

/*
 * The end of a VM: its release, or a VM_CREATE whose fd could not be made.
 * No fd, vCPU fd or mapping of it is left, so nothing runs or kicks.
 */
static void boxy_vm_teardown(struct boxy_vm *vm)
{
	struct boxy_hypercall_regs regs = {.rdi = vm->handle};
	unsigned int i, vcpus = 0;
	unsigned long status;
	bool released;

	boxy_vm_reclaim_all(vm);
	for (i = 0; i < vm->vcpu_count; i++)
		vcpus += vm->vcpus[i] ? 1 : 0;
	status = boxy_hypercall(BOXY_CALL_VM_DESTROY, &regs);
	released = status == BOXY_STATUS_OK;
	if (!released)
		pr_err("VM %u: VM_DESTROY failed: %s (%lu). The VMM may still map its memory: leaking its %lu pinned pages and %u vCPU run pages (never reused by the host), and boxy.ko stays loaded\n",
		       vm->handle, boxy_status_name(status), status,
		       vm->pinned_pages, vcpus);

	boxy_vm_free_memory(vm, released);
	for (i = 0; i < vm->vcpu_count; i++) {
		if (vm->vcpus[i])
			boxy_vcpu_free(vm->vcpus[i], released);
	}
	mmdrop(vm->mm);
	kfree(vm);
	/*
	 * A VM the VMM still holds keeps the module: unloading would stop a
	 * late-launched VMM under it, and a reload could not clean it up.
	 */
	if (released)
		module_put(THIS_MODULE);
}

static long boxy_vm_inject(struct boxy_vm *vm,
			   const struct boxy_ioctl_interrupt __user *uarg)
{
	struct boxy_hypercall_regs regs = {};
	struct boxy_ioctl_interrupt req;
	struct boxy_vcpu *vcpu;
	unsigned long status;
	int err;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (req.vcpu >= vm->vcpu_count || req.vector < BOXY_MIN_VECTOR ||
	    req.vector > BOXY_MAX_VECTOR || (req.flags & ~BOXY_INJECT_LEVEL) ||
	    req.reserved != 0)
		return -EINVAL;
	/* Pairs with the release in boxy_vcpu_create(). */
	vcpu = smp_load_acquire(&vm->vcpus[req.vcpu]);
	if (!vcpu)
		return -ENOENT;

	regs.rdi = vm->handle;
	regs.rsi = req.vcpu;
	regs.rdx = req.vector;
	regs.r10 = req.flags;
	status = boxy_hypercall(BOXY_CALL_INJECT_INTERRUPT, &regs);
	err = boxy_vm_status_errno("INJECT_INTERRUPT", status);
	if (err)
		return err;
	/* Pending in its LAPIC now: make sure its thread gets to enter. */
	boxy_vcpu_kick(vcpu);
	return 0;
}

static long boxy_vm_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct boxy_vm *vm = file->private_data;
	void __user *uarg = (void __user *)arg;

	/*
	 * As KVM: only the creating process drives the VM. Its mm pays for
	 * the pinned memory, and SET_MEMORY pins the caller's addresses.
	 */
	if (vm->mm != current->mm)
		return -EIO;
	switch (cmd) {
	case BOXY_IOCTL_SET_MEMORY:
		return boxy_vm_set_memory(vm, uarg);
	case BOXY_IOCTL_VCPU_CREATE:
		return boxy_vcpu_create(vm, file, arg);
	case BOXY_IOCTL_INJECT:
		return boxy_vm_inject(vm, uarg);
	default:
		return -ENOTTY;
	}
}

static int boxy_vm_release(struct inode *inode, struct file *file)
{
	boxy_vm_teardown(file->private_data);
	return 0;
}

static const struct file_operations boxy_vm_fops = {
	.owner = THIS_MODULE,
	.release = boxy_vm_release,
	.unlocked_ioctl = boxy_vm_ioctl,
	/* Same layouts for 32-bit callers; VCPU_CREATE's integer too. */
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static bool boxy_vm_create_valid(const struct boxy_ioctl_vm_create *req)
{
	return req->memory_size != 0 &&
	       req->memory_size <= BOXY_VM_MAX_MEMORY &&
	       PAGE_ALIGNED(req->memory_size) && req->vcpu_count != 0 &&
	       req->vcpu_count <= BOXY_MAX_VCPUS && req->flags == 0 &&
	       req->reserved == 0;
}

long boxy_vm_create(struct boxy_ioctl_vm_create __user *uarg, u64 features)
{
	struct boxy_hypercall_regs regs = {};
	struct boxy_ioctl_vm_create req;
	unsigned long status;
	struct boxy_vm *vm;
	struct file *file;
	int fd, err;

	/* The ABI counts in 4 KiB pages; boxy.ko in the kernel's. */
	BUILD_BUG_ON(PAGE_SIZE != 4096);
	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	if (!boxy_vm_create_valid(&req))
		return -EINVAL;
	if (!(features & BOXY_FEATURE_SERVICE_VMS)) {
		pr_warn_ratelimited(
			"VM_CREATE: this Boxy does not offer service VMs (feature bit BOXY_FEATURE_SERVICE_VMS clear): the VMM is too old, or its backend for this CPU vendor has no service VMs yet\n");
		return -EOPNOTSUPP;
	}
	/* Guests see the host TSC; their timers need its frequency. */
	if (!tsc_khz) {
		pr_warn_ratelimited(
			"VM_CREATE: the kernel does not know its TSC frequency\n");
		return -EOPNOTSUPP;
	}
	/* Dropped when the VM is destroyed: rmmod waits for every VM. */
	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm) {
		err = -ENOMEM;
		goto put_module;
	}

	regs.rdi = req.memory_size;
	regs.rsi = req.vcpu_count;
	status = boxy_hypercall(BOXY_CALL_VM_CREATE, &regs);
	err = boxy_vm_status_errno("VM_CREATE", status);
	if (err)
		goto free_vm;
	if (regs.rdi == 0 || regs.rdi > BOXY_MAX_VMS) {
		/* Not a handle this ABI knows: no call could name it. */
		pr_err("VM_CREATE returned handle %lu, outside 1..%u: leaving that VM alone\n",
		       regs.rdi, BOXY_MAX_VMS);
		err = -EIO;
		goto free_vm;
	}
	vm->handle = regs.rdi;
	vm->vcpu_count = req.vcpu_count;
	vm->memory_size = req.memory_size;
	mutex_init(&vm->lock);
	init_rwsem(&vm->memory_sem);
	INIT_LIST_HEAD(&vm->regions);
	mmgrab(current->mm);
	vm->mm = current->mm;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		err = fd;
		goto teardown;
	}
	file = anon_inode_getfile("boxy-vm", &boxy_vm_fops, vm, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		err = PTR_ERR(file);
		goto teardown;
	}
	req.tsc_khz = tsc_khz;
	req.handle = vm->handle;
	/* Before the fd exists for the process: it can still be taken back. */
	if (copy_to_user(uarg, &req, sizeof(req))) {
		put_unused_fd(fd);
		fput(file); /* its release destroys the VM */
		return -EFAULT;
	}
	pr_debug("VM %u: %llu KiB, %u vCPUs\n", vm->handle,
		 req.memory_size / 1024, req.vcpu_count);
	/* From here on another thread may close the fd: vm is not ours. */
	fd_install(fd, file);
	return fd;

teardown:
	/* Drops the module reference too (if the VMM let the VM go). */
	boxy_vm_teardown(vm);
	return err;
free_vm:
	kfree(vm);
put_module:
	module_put(THIS_MODULE);
	return err;
}
