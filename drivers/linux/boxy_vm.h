/* SPDX-License-Identifier: MIT */
/*
 * Service VMs in boxy.ko (boxy_vm.c: VM fds, interrupts, teardown;
 * boxy_memory.c: pinned, donated memory; boxy_vcpu.c: vCPU fds,
 * registers, the run loop). README.md, "Service VMs", describes the
 * ioctls and the lifetime rules this code keeps.
 */
#ifndef BOXY_VM_H
#define BOXY_VM_H

#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <boxy/abi.h>
#include <boxy/boxy_ioctl.h>

/*
 * Pinned, donated memory: pages[i] is mapped at guest_address + i * 4 KiB.
 * Every page of a region on a VM's list is pinned and counted in the
 * owner's locked_vm until the VM ends.
 */
struct boxy_region {
	struct list_head link;
	u64 guest_address;
	unsigned long npages;
	struct page **pages;
	/*
	 * A failed SET_MEMORY could not reclaim what it had donated, so which
	 * pages the VMM still maps is unknown: only VM_DESTROY settles it.
	 */
	bool reclaim_failed;
};

struct boxy_vm {
	u32 handle;
	u32 vcpu_count;
	u64 memory_size;
	/* The creating process: the only one whose ioctls are served (as
	 * KVM), and whose locked_vm pays for the pinned pages. */
	struct mm_struct *mm;
	/* Serializes SET_MEMORY and VCPU_CREATE; never held across a run. */
	struct mutex lock;
	/*
	 * Read around each VCPU_RUN, written by SET_MEMORY: the VMM refuses
	 * to change a VM's memory while one of its vCPUs runs (BUSY), so
	 * SET_MEMORY holds the vCPUs back instead. Its undo (RECLAIM) then
	 * cannot fail for that reason either.
	 */
	struct rw_semaphore memory_sem;
	struct list_head regions;   /* struct boxy_region, under lock */
	unsigned long pinned_pages; /* under lock */
	/*
	 * Written once under lock (smp_store_release) when the vCPU exists in
	 * the VMM and has its fd; read locklessly (smp_load_acquire) to kick.
	 * Freed only when the VM is released.
	 */
	struct boxy_vcpu *vcpus[BOXY_MAX_VCPUS];
};

struct boxy_vcpu {
	struct boxy_vm *vm;
	struct file *vm_file; /* the reference this vCPU's fd holds */
	u32 index;
	/* Written by the VMM on every RUN, mapped into the process. */
	struct boxy_vcpu_run *run;
	/* One RUN (or SET/GET_REGS) at a time; -EBUSY for the others. */
	struct mutex run_lock;
	/* The CPU inside VCPU_RUN for this vCPU, or -1: where kicks go. */
	int cpu;
	/* Set by a kick, cleared before each entry: ends an HLT sleep. */
	bool kicked;
	wait_queue_head_t wait;
	/* Interrupts the guest at its LAPIC timer deadline (the interrupt
	 * itself makes the VMM return INTERRUPTED). */
	struct hrtimer timer;
};

/* /dev/boxy BOXY_IOCTL_VM_CREATE; features: BOXY_CALL_VERSION's bits. */
long boxy_vm_create(struct boxy_ioctl_vm_create __user *uarg, u64 features);

/* Internal to boxy_vm.c, boxy_memory.c and boxy_vcpu.c. */
int boxy_vm_status_errno(const char *call, unsigned long status);
long boxy_vm_set_memory(struct boxy_vm *vm,
			const struct boxy_ioctl_memory __user *uarg);
void boxy_vm_reclaim_all(struct boxy_vm *vm);
void boxy_vm_free_memory(struct boxy_vm *vm, bool vmm_released);
long boxy_vcpu_create(struct boxy_vm *vm, struct file *vm_file,
		      unsigned long index);
void boxy_vcpu_kick(struct boxy_vcpu *vcpu);
void boxy_vcpu_free(struct boxy_vcpu *vcpu, bool vmm_released);

#endif /* BOXY_VM_H */
