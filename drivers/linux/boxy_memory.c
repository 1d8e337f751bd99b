// SPDX-License-Identifier: MIT
/*
 * Service VMs: their memory (README.md, "Service VMs", Memory).
 *
 * SET_MEMORY pins a range of the creating process long-term and donates it
 * to the VM in batches; the VM's end reclaims it (the VMM zeroes every
 * page) and unpins it. A page goes back to the host only after the VMM
 * said that no VM maps it: a successful MEMORY_RECLAIM of it, or
 * VM_DESTROY.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <boxy/abi.h>
#include <boxy/boxy_ioctl.h>

#include "boxy_late.h"
#include "boxy_vm.h"

/* Reclaims (the VMM zeroes, then unmaps) npages from guest_address on. */
static int boxy_vm_reclaim(const struct boxy_vm *vm, u64 guest_address,
			   unsigned long npages)
{
	unsigned long done, n, status;

	for (done = 0; done < npages; done += n) {
		struct boxy_hypercall_regs regs = {};

		n = min_t(unsigned long, npages - done, BOXY_DONATE_MAX_PAGES);
		regs.rdi = vm->handle;
		regs.rsi = guest_address + ((u64)done << PAGE_SHIFT);
		regs.rdx = n;
		status = boxy_hypercall(BOXY_CALL_MEMORY_RECLAIM, &regs);
		if (status != BOXY_STATUS_OK)
			return boxy_vm_status_errno("MEMORY_RECLAIM", status);
		/* Zeroing 2 MiB per call: let the CPU go between calls. */
		cond_resched();
	}
	return 0;
}

/*
 * Unpins in batches, so that a large VM does not hog the CPU. Dirty: the
 * guest (and RECLAIM's zeroing) wrote them behind the host's page tables,
 * so shared file-backed memory must be written back.
 */
static void boxy_unpin(struct page **pages, unsigned long npages)
{
	unsigned long done, n;

	for (done = 0; done < npages; done += n) {
		n = min_t(unsigned long, npages - done, BOXY_DONATE_MAX_PAGES);
		unpin_user_pages_dirty_lock(pages + done, n, true);
		cond_resched();
	}
}

/*
 * Gives pinned pages back to the creator's RLIMIT_MEMLOCK. When the VM
 * outlives its process (the fd was passed on, or the process is exiting),
 * the mm has no users left and nothing to give back to.
 */
static void boxy_vm_unaccount(struct boxy_vm *vm, unsigned long npages)
{
	if (!npages || !mmget_not_zero(vm->mm))
		return;
	account_locked_vm(vm->mm, npages, false);
	mmput(vm->mm);
}

/*
 * unpin: the VMM confirmed that no VM maps the pages any more. Otherwise
 * they are unpinned already, or must stay pinned for good.
 */
static void boxy_region_free(struct boxy_vm *vm, struct boxy_region *region,
			     bool unpin)
{
	if (unpin) {
		boxy_unpin(region->pages, region->npages);
		boxy_vm_unaccount(vm, region->npages);
	}
	kvfree(region->pages);
	kfree(region);
}

static bool boxy_vm_overlaps(const struct boxy_vm *vm, u64 start, u64 size)
{
	const struct boxy_region *region;

	list_for_each_entry(region, &vm->regions, link) {
		u64 end = region->guest_address +
			  ((u64)region->npages << PAGE_SHIFT);

		if (start < end && region->guest_address < start + size)
			return true;
	}
	return false;
}

/* Pins all n pages from user_address into pages[], or none of them. */
static int boxy_pin_batch(unsigned long user_address, unsigned long n,
			  struct page **pages)
{
	unsigned long done = 0;
	int got;

	/*
	 * LONGTERM: the pages stay pinned for the VM's life, so the kernel
	 * first moves them out of movable zones and CMA. WRITE: the guest
	 * writes them; it also breaks copy-on-write sharing now.
	 */
	while (done < n) {
		got = pin_user_pages_fast(user_address + (done << PAGE_SHIFT),
					  n - done, FOLL_WRITE | FOLL_LONGTERM,
					  pages + done);
		if (got <= 0) {
			unpin_user_pages(pages, done);
			return got ? got : -EFAULT;
		}
		done += got;
	}
	return 0;
}

/* MEMORY_DONATE of n pinned pages; list is a page for their addresses. */
static int boxy_donate_batch(const struct boxy_vm *vm, u64 *list,
			     u64 guest_address, struct page **pages,
			     unsigned long n)
{
	struct boxy_hypercall_regs regs = {};
	unsigned long i, status;

	BUILD_BUG_ON(BOXY_DONATE_MAX_PAGES * sizeof(*list) > PAGE_SIZE);
	/* The host VM is identity-mapped: host-physical is what it sees. */
	for (i = 0; i < n; i++)
		list[i] = page_to_phys(pages[i]);
	regs.rdi = vm->handle;
	regs.rsi = guest_address;
	regs.rdx = virt_to_phys(list);
	regs.r10 = n;
	status = boxy_hypercall(BOXY_CALL_MEMORY_DONATE, &regs);
	return boxy_vm_status_errno("MEMORY_DONATE", status);
}

/*
 * Undoes a failed SET_MEMORY, under vm->lock: of the region's pages the
 * first `pinned` are pinned, and of those the first `donated` donated.
 * Nothing of the call may remain, except what the VMM might still map.
 */
static void boxy_set_memory_undo(struct boxy_vm *vm, struct boxy_region *region,
				 unsigned long pinned, unsigned long donated)
{
	int err = boxy_vm_reclaim(vm, region->guest_address, donated);

	if (!err) {
		boxy_unpin(region->pages, pinned);
		account_locked_vm(vm->mm, region->npages, false);
		boxy_region_free(vm, region, false);
		return;
	}
	/*
	 * Some of the donated pages may still be mapped in the VM: keep them
	 * pinned with it until VM_DESTROY unmaps them; free the rest now.
	 */
	pr_err("VM %u: SET_MEMORY failed and reclaiming its %lu donated pages failed too (%d): they stay pinned until the VM ends\n",
	       vm->handle, donated, err);
	boxy_unpin(region->pages + donated, pinned - donated);
	account_locked_vm(vm->mm, region->npages - donated, false);
	region->npages = donated;
	region->reclaim_failed = true;
	list_add_tail(&region->link, &vm->regions);
	vm->pinned_pages += donated;
}

long boxy_vm_set_memory(struct boxy_vm *vm,
			const struct boxy_ioctl_memory __user *uarg)
{
	unsigned long npages, pinned = 0, donated = 0, n;
	struct boxy_ioctl_memory req;
	struct boxy_region *region;
	u64 *list;
	int err;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	/* In [0, memory_size) implies that all regions together fit it. */
	if (req.flags != 0 || req.size == 0 ||
	    !PAGE_ALIGNED(req.guest_address) || !PAGE_ALIGNED(req.size) ||
	    !PAGE_ALIGNED(req.user_address) ||
	    req.guest_address >= vm->memory_size ||
	    req.size > vm->memory_size - req.guest_address ||
	    req.user_address + req.size < req.user_address)
		return -EINVAL;
	npages = req.size >> PAGE_SHIFT;

	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	list = (u64 *)__get_free_page(GFP_KERNEL);
	if (!region || !list) {
		err = -ENOMEM;
		goto free;
	}
	region->guest_address = req.guest_address;
	region->npages = npages;
	/* Up to 1 GiB of pointers for the largest VM: kvcalloc. */
	region->pages =
		kvcalloc(npages, sizeof(*region->pages), GFP_KERNEL_ACCOUNT);
	if (!region->pages) {
		err = -ENOMEM;
		goto free;
	}

	err = mutex_lock_killable(&vm->lock);
	if (err)
		goto free;
	if (boxy_vm_overlaps(vm, req.guest_address, req.size)) {
		err = -EEXIST;
		goto unlock;
	}
	/* No vCPU enters until this call is done (boxy_vm.h). */
	err = down_write_killable(&vm->memory_sem);
	if (err)
		goto unlock;
	/* Long-term pins count against RLIMIT_MEMLOCK, as with VFIO. */
	err = account_locked_vm(vm->mm, npages, true);
	if (err)
		goto unlock_runs;

	/* Pin a batch, donate it, next: memory is never pinned in vain. */
	while (donated < npages) {
		/* A killed process need not wait for the rest. */
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		n = min_t(unsigned long, npages - donated,
			  BOXY_DONATE_MAX_PAGES);
		err = boxy_pin_batch(req.user_address + (donated << PAGE_SHIFT),
				     n, region->pages + donated);
		if (err)
			break;
		pinned = donated + n;
		err = boxy_donate_batch(vm, list,
					req.guest_address +
						((u64)donated << PAGE_SHIFT),
					region->pages + donated, n);
		if (err)
			break;
		donated = pinned;
		cond_resched();
	}
	if (err) {
		boxy_set_memory_undo(vm, region, pinned, donated);
		region = NULL; /* freed or kept with the VM */
	} else {
		list_add_tail(&region->link, &vm->regions);
		vm->pinned_pages += npages;
		region = NULL;
	}
unlock_runs:
	up_write(&vm->memory_sem);
unlock:
	mutex_unlock(&vm->lock);
free:
	if (region) {
		kvfree(region->pages);
		kfree(region);
	}
	free_page((unsigned long)list);
	return err;
}

/*
 * The first step of a VM's end. VM_DESTROY would zero and unmap the memory
 * too, but in one call however large the VM is; in batches the CPU is free
 * in between. A failure is only logged: VM_DESTROY settles it either way.
 */
void boxy_vm_reclaim_all(struct boxy_vm *vm)
{
	struct boxy_region *region;
	int err;

	list_for_each_entry(region, &vm->regions, link) {
		if (region->reclaim_failed)
			continue;
		err = boxy_vm_reclaim(vm, region->guest_address,
				      region->npages);
		if (err)
			pr_warn("VM %u: reclaiming [%#llx, +%lu pages) failed (%d); VM_DESTROY unmaps it\n",
				vm->handle, region->guest_address,
				region->npages, err);
	}
}

/* The last step: vmm_released, VM_DESTROY succeeded and the pages are free. */
void boxy_vm_free_memory(struct boxy_vm *vm, bool vmm_released)
{
	struct boxy_region *region, *next;

	list_for_each_entry_safe(region, next, &vm->regions, link) {
		list_del(&region->link);
		boxy_region_free(vm, region, vmm_released);
	}
}
