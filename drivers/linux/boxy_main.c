// SPDX-License-Identifier: MIT
/*
 * boxy.ko: the host kernel's side of the Boxy hypercall ABI. It finds Boxy
 * (CPUID), checks the ABI version (BOXY_CALL_VERSION) and exposes /dev/boxy,
 * whose ioctls (include/boxy/boxy_ioctl.h) map 1:1 to hypercalls
 * (include/boxy/abi.h, docs/abi.md). If boxy.efi did not start Boxy before
 * Linux, the module starts it now (late launch, boxy_late.c) unless loaded
 * with late_launch=0, and stops it again when it is unloaded.
 *
 * Copyright (c) 2026 The Boxy developers
 *
 * Permission is hereby granted, free of charge, to any person obtaining a
 * copy of this software and associated documentation files (the
 * "Software"), to deal in the Software without restriction, including
 * without limitation the rights to use, copy, modify, merge, publish,
 * distribute, sublicense, and/or sell copies of the Software, and to permit
 * persons to whom the Software is furnished to do so, subject to the
 * following conditions:
 *
 * The above copyright notice and this permission notice shall be included
 * in all copies or substantial portions of the Software.
 *
 * THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
 * OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
 * MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN
 * NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
 * DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
 * OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE
 * USE OR OTHER DEALINGS IN THE SOFTWARE.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/init.h>
#include <linux/io.h>
#include <linux/limits.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/stddef.h>
#include <linux/types.h>
#include <linux/uaccess.h>

#include <asm/processor.h>

#include <boxy/abi.h>
#include <boxy/boxy_ioctl.h>

#include "boxy_late.h"
#include "boxy_vm.h"

#ifndef CONFIG_X86_64
#error "boxy.ko is for x86-64 kernels: Boxy is an x86-64 hypervisor"
#endif

/*
 * CPUID.1:ECX[31], "hypervisor present": always 0 on bare metal (Intel SDM
 * Vol. 2A, CPUID, feature information in ECX: bit 31 "not used, always
 * returns 0"), reserved for hypervisors to report a guest (AMD APM Vol. 3,
 * Appendix E, CPUID Fn0000_0001_ECX[31]).
 */
#define BOXY_CPUID1_ECX_HYPERVISOR BIT(31)

/* What an e2e test or a user looks for when Boxy is absent. */
#define BOXY_NOT_RUNNING \
	"Boxy is not running on this machine (no BoxyBoxyBoxy CPUID signature)\n"

static bool late_launch = true;
module_param(late_launch, bool, 0444);
MODULE_PARM_DESC(
	late_launch,
	"Start Boxy on this running system if boxy.efi did not (default: yes); 0 refuses to load instead");

/* This module started Boxy (late launch) and stops it on unload. */
static bool boxy_started_here;

/*
 * GET_STATS may fill less than our struct (an older VMM, docs/abi.md), but
 * never less than the header before the counters.
 */
#define BOXY_STATS_MIN_WRITTEN offsetof(struct boxy_cpu_stats, exits_by_reason)

/* Chosen once at load: the hypercall instruction of this CPU vendor. */
static bool boxy_use_vmmcall __ro_after_init;
/* From BOXY_CALL_VERSION at load; fixed for as long as Boxy runs. */
static u32 boxy_cpu_count __ro_after_init;
static u64 boxy_features __ro_after_init;

/*
 * One hypercall (docs/abi.md, "Calling convention"): RAX = call number,
 * arguments in RDI, RSI, RDX, R10, R8, R9; RAX = status, outputs in RDI,
 * RSI, RDX, which are clobbered either way. The VMM preserves every other
 * register. R10, R8 and R9 have no single-letter constraint, hence the
 * register variables. "memory": GET_STATS writes the caller's buffer behind
 * the compiler's back. The instruction exits to the VMM; on the wrong
 * vendor's CPU it raises #UD, hence the choice at load time.
 */
unsigned long boxy_hypercall(unsigned long call,
			     struct boxy_hypercall_regs *regs)
{
	register unsigned long r10 asm("r10") = regs->r10;
	register unsigned long r8 asm("r8") = regs->r8;
	register unsigned long r9 asm("r9") = regs->r9;

	if (boxy_use_vmmcall)
		asm volatile("vmmcall"
			     : "+a"(call), "+D"(regs->rdi), "+S"(regs->rsi),
			       "+d"(regs->rdx)
			     : "r"(r10), "r"(r8), "r"(r9)
			     : "memory");
	else
		asm volatile("vmcall"
			     : "+a"(call), "+D"(regs->rdi), "+S"(regs->rsi),
			       "+d"(regs->rdx)
			     : "r"(r10), "r"(r8), "r"(r9)
			     : "memory");
	return call;
}

const char *boxy_status_name(unsigned long status)
{
	switch (status) {
	case BOXY_STATUS_OK:
		return "OK";
	case BOXY_STATUS_UNKNOWN_CALL:
		return "UNKNOWN_CALL";
	case BOXY_STATUS_DENIED:
		return "DENIED";
	case BOXY_STATUS_INVALID_ARGUMENT:
		return "INVALID_ARGUMENT";
	case BOXY_STATUS_BAD_ADDRESS:
		return "BAD_ADDRESS";
	case BOXY_STATUS_BAD_LENGTH:
		return "BAD_LENGTH";
	case BOXY_STATUS_NO_SUCH_CPU:
		return "NO_SUCH_CPU";
	case BOXY_STATUS_UNSUPPORTED:
		return "UNSUPPORTED";
	case BOXY_STATUS_NO_MEMORY:
		return "NO_MEMORY";
	case BOXY_STATUS_NO_SUCH_VM:
		return "NO_SUCH_VM";
	case BOXY_STATUS_NO_SUCH_VCPU:
		return "NO_SUCH_VCPU";
	case BOXY_STATUS_BUSY:
		return "BUSY";
	case BOXY_STATUS_EXISTS:
		return "EXISTS";
	default:
		return "unknown status";
	}
}

/*
 * A failed hypercall as an errno for user space. Arguments from user space
 * are validated before any call, so statuses that blame the arguments mean
 * that boxy.ko and the VMM disagree: that is logged, and EIO.
 */
static int boxy_status_to_errno(const char *call, unsigned long status)
{
	switch (status) {
	case BOXY_STATUS_OK:
		return 0;
	case BOXY_STATUS_UNKNOWN_CALL:
	case BOXY_STATUS_UNSUPPORTED:
		return -EOPNOTSUPP;
	case BOXY_STATUS_NO_SUCH_CPU:
		return -EINVAL;
	default:
		pr_warn_ratelimited("%s hypercall failed: %s (%lu)\n", call,
				    boxy_status_name(status), status);
		return -EIO;
	}
}

static long boxy_ioctl_version(struct boxy_ioctl_version __user *uarg)
{
	struct boxy_ioctl_version out = {};
	struct boxy_hypercall_regs regs = {};
	unsigned long status;

	status = boxy_hypercall(BOXY_CALL_VERSION, &regs);
	if (status != BOXY_STATUS_OK)
		return boxy_status_to_errno("VERSION", status);

	out.abi_version = lower_32_bits(regs.rdi);
	out.cpu_count = boxy_cpu_count;
	out.features = regs.rsi;
	out.driver_abi_version = BOXY_ABI_VERSION;
	return copy_to_user(uarg, &out, sizeof(out)) ? -EFAULT : 0;
}

static long boxy_ioctl_get_stats(struct boxy_ioctl_stats __user *uarg)
{
	struct boxy_hypercall_regs regs = {};
	struct boxy_cpu_stats *buf;
	u32 cpu_index, reserved;
	unsigned long status;
	long ret;

	if (get_user(cpu_index, &uarg->cpu_index) ||
	    get_user(reserved, &uarg->reserved))
		return -EFAULT;
	if (reserved != 0 || cpu_index >= boxy_cpu_count)
		return -EINVAL;
	if (!(boxy_features & BOXY_FEATURE_GET_STATS))
		return -EOPNOTSUPP;

	/*
	 * The VMM takes a guest-physical address, so the buffer must be
	 * physically contiguous and in the direct map (virt_to_phys): a page
	 * of its own, zeroed so that whatever the VMM does not fill reads 0.
	 */
	BUILD_BUG_ON(sizeof(*buf) > PAGE_SIZE);
	buf = (struct boxy_cpu_stats *)get_zeroed_page(GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	regs.rdi = cpu_index;
	regs.rsi = virt_to_phys(buf);
	regs.rdx = sizeof(*buf);
	status = boxy_hypercall(BOXY_CALL_GET_STATS, &regs);
	if (status != BOXY_STATUS_OK) {
		ret = boxy_status_to_errno("GET_STATS", status);
		goto out;
	}
	/* RDI = bytes written: within the buffer, and the whole header. */
	if (regs.rdi < BOXY_STATS_MIN_WRITTEN || regs.rdi > sizeof(*buf)) {
		pr_warn_ratelimited("GET_STATS wrote %lu bytes, expected %zu\n",
				    regs.rdi, sizeof(*buf));
		ret = -EIO;
		goto out;
	}
	ret = copy_to_user(&uarg->stats, buf, sizeof(*buf)) ? -EFAULT : 0;
out:
	free_page((unsigned long)buf);
	return ret;
}

static long boxy_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case BOXY_IOCTL_VERSION:
		return boxy_ioctl_version(uarg);
	case BOXY_IOCTL_GET_STATS:
		return boxy_ioctl_get_stats(uarg);
	case BOXY_IOCTL_VM_CREATE:
		return boxy_vm_create(uarg, boxy_features);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations boxy_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = boxy_ioctl,
	/* Same struct layouts for 32-bit callers: only the pointer differs. */
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/*
 * Root only by default (devtmpfs creates the node with this mode); on real
 * installs drivers/linux/60-boxy.rules gives the boxy group access (0660).
 */
static struct miscdevice boxy_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "boxy",
	.fops = &boxy_fops,
	.mode = 0600,
};

/* Is Boxy below us? Under another hypervisor, or none, there is no work. */
static bool __init boxy_detect(bool quiet)
{
	unsigned int eax, ebx, ecx, edx;
	char signature[12];

	/*
	 * Without the hypervisor bit, leaf 0x40000000 means nothing: bare
	 * metal answers an out-of-range leaf with another leaf's data.
	 */
	if (!(cpuid_ecx(1) & BOXY_CPUID1_ECX_HYPERVISOR)) {
		if (!quiet) {
			pr_err(BOXY_NOT_RUNNING);
			pr_info("no hypervisor at all: CPUID.1:ECX[31] is clear\n");
		}
		return false;
	}

	cpuid(BOXY_CPUID_LEAF_IDENTITY, &eax, &ebx, &ecx, &edx);
	if (ebx == BOXY_CPUID_SIGNATURE_EBX &&
	    ecx == BOXY_CPUID_SIGNATURE_ECX && edx == BOXY_CPUID_SIGNATURE_EDX)
		return true;

	memcpy(&signature[0], &ebx, 4);
	memcpy(&signature[4], &ecx, 4);
	memcpy(&signature[8], &edx, 4);
	if (!quiet) {
		pr_err(BOXY_NOT_RUNNING);
		pr_info("the hypervisor present calls itself \"%*pE\"\n",
			(int)sizeof(signature), signature);
	}
	return false;
}

/* Boxy runs, whether boxy.efi started it or we do now (late launch). */
static int __init boxy_find_or_start(void)
{
	int err;

	if (boxy_detect(true)) {
		pr_info("Boxy was started by boxy.efi: attaching\n");
		return 0;
	}
	if (!late_launch) {
		boxy_detect(false);
		pr_err("late_launch=0: not starting Boxy on this running system\n");
		return -ENODEV;
	}
	pr_info("Boxy is not running: starting it on this running system (late launch)\n");
	err = boxy_late_start();
	if (err)
		return err;
	boxy_started_here = true;
	if (!boxy_detect(false)) {
		boxy_late_stop();
		boxy_started_here = false;
		return -EIO;
	}
	return 0;
}

static int __init boxy_init(void)
{
	struct boxy_hypercall_regs regs = {};
	unsigned long status;
	u32 version;
	int err;

	boxy_use_vmmcall = boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
			   boot_cpu_data.x86_vendor == X86_VENDOR_HYGON;
	err = boxy_find_or_start();
	if (err)
		return err;

	status = boxy_hypercall(BOXY_CALL_VERSION, &regs);
	if (status != BOXY_STATUS_OK) {
		pr_err("VERSION hypercall failed: %s (%lu)\n",
		       boxy_status_name(status), status);
		err = -EIO;
		goto undo;
	}

	/* docs/abi.md "Versioning": same major, minor at least ours. */
	version = lower_32_bits(regs.rdi);
	if (BOXY_ABI_VERSION_MAJOR_OF(version) != BOXY_ABI_VERSION_MAJOR ||
	    BOXY_ABI_VERSION_MINOR_OF(version) < BOXY_ABI_VERSION_MINOR) {
		pr_err("Boxy speaks ABI %u.%u, this boxy.ko needs %u.%u or a later %u.x: use the boxy.ko built with your boxy.efi\n",
		       BOXY_ABI_VERSION_MAJOR_OF(version),
		       BOXY_ABI_VERSION_MINOR_OF(version),
		       BOXY_ABI_VERSION_MAJOR, BOXY_ABI_VERSION_MINOR,
		       BOXY_ABI_VERSION_MAJOR);
		err = -EPROTONOSUPPORT;
		goto undo;
	}
	if (regs.rdx == 0 || regs.rdx > U32_MAX) {
		pr_err("Boxy reports %lu CPUs; refusing to drive it\n",
		       regs.rdx);
		err = -EIO;
		goto undo;
	}
	boxy_cpu_count = regs.rdx;
	boxy_features = regs.rsi;

	err = misc_register(&boxy_miscdev);
	if (err) {
		pr_err("cannot register /dev/boxy: %d\n", err);
		goto undo;
	}
	pr_info("Boxy ABI %u.%u, %u CPUs, features %#llx: /dev/boxy ready\n",
		BOXY_ABI_VERSION_MAJOR_OF(version),
		BOXY_ABI_VERSION_MINOR_OF(version), boxy_cpu_count,
		boxy_features);
	return 0;
undo:
	if (boxy_started_here)
		boxy_late_stop();
	return err;
}

static void __exit boxy_exit(void)
{
	misc_deregister(&boxy_miscdev);
	/* Started here: every CPU returns to native execution. */
	if (boxy_started_here)
		boxy_late_stop();
}

module_init(boxy_init);
module_exit(boxy_exit);

MODULE_DESCRIPTION("Boxy hypervisor interface (/dev/boxy)");
MODULE_AUTHOR("The Boxy developers");
/*
 * The code is MIT-licensed (above). MIT is GPL-compatible, and "Dual
 * MIT/GPL" is how the kernel's module loader recognises such a license:
 * plain "MIT" would taint the kernel.
 */
MODULE_LICENSE("Dual MIT/GPL");
