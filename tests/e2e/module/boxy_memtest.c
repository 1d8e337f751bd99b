// SPDX-License-Identifier: MIT
/*
 * boxy_memtest: a test-only module. It maps the physical range
 * [phys, phys + len) and reports what the host reads there, to show that
 * VMM memory does not reach the host. Loading always fails with -EAGAIN
 * after the report, so nothing stays loaded.
 *
 *   insmod boxy_memtest.ko phys=0x3d571000 len=4096
 *   -> "boxy_memtest: 0x3d571000+4096: 4096 of 4096 bytes 0xff, magic absent"
 */
#include <asm/asm.h>
#include <asm/msr-index.h>
#include <asm/msr.h>
#include <asm/special_insns.h>
#include <linux/io.h>
#include <linux/module.h>

static unsigned long phys;
static unsigned long len = 4096;
static bool svm;
static bool vmx;
module_param(phys, ulong, 0444);
module_param(len, ulong, 0444);
module_param(svm, bool, 0444);
module_param(vmx, bool, 0444);

/*
 * svm=1: what the host gets for SVM on a CPU that hides it. A CPU without
 * SVM faults on EFER.SVME writes (#GP) and on VMRUN/VMLOAD/VMSAVE/STGI/CLGI
 * (#UD, APM Vol. 3). The exception-table fixup reports the vector in EAX.
 */
static int svm_probe(void)
{
	u64 efer;
	int trap = 0;
	int err;

	rdmsrl(MSR_EFER, efer);
	err = wrmsrl_safe(MSR_EFER, efer | EFER_SVME);
	pr_info("boxy_memtest: EFER.SVME write %s\n",
		err ? "faults (#GP)" : "ACCEPTED");
	asm volatile("1: stgi\n"
		     "2:\n" _ASM_EXTABLE_FAULT(1b, 2b)
		     : "+a"(trap)
		     :
		     : "memory");
	pr_info("boxy_memtest: STGI raises vector %d\n", trap);
	return err && trap == 6 ? 0 : -EIO;
}

/*
 * vmx=1: what the host gets for VMX on a CPU that hides it (or has none,
 * e.g. any AMD CPU): setting CR4.VMXE faults (#GP, reserved bit), VMXON
 * raises #UD (CR4.VMXE clear; SDM Vol. 3C, 31.3 VMXON), the VMX capability
 * MSRs fault, and IA32_FEATURE_CONTROL either faults (no VMX, no SMX) or
 * reads locked with VMX disabled.
 */
static int vmx_probe(void)
{
	unsigned long cr4 = __read_cr4();
	u64 region = 0, control = 0, basic = 0;
	int cr4_trap = 0, vmxon_trap = 0;
	bool control_ok, basic_faults;
	int err;

	asm volatile("1: mov %1, %%cr4\n"
		     "2:\n" _ASM_EXTABLE_FAULT(1b, 2b)
		     : "+a"(cr4_trap)
		     : "r"(cr4 | X86_CR4_VMXE)
		     : "memory");
	if (!cr4_trap)
		asm volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
	pr_info("boxy_memtest: setting CR4.VMXE raises vector %d\n", cr4_trap);
	asm volatile("1: vmxon %1\n"
		     "2:\n" _ASM_EXTABLE_FAULT(1b, 2b)
		     : "+a"(vmxon_trap)
		     : "m"(region)
		     : "memory", "cc");
	pr_info("boxy_memtest: VMXON raises vector %d\n", vmxon_trap);
	err = rdmsrl_safe(MSR_IA32_FEAT_CTL, &control);
	control_ok = err || ((control & FEAT_CTL_LOCKED) &&
			     !(control & (FEAT_CTL_VMX_ENABLED_INSIDE_SMX |
					  FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX)));
	pr_info("boxy_memtest: IA32_FEATURE_CONTROL %s %#llx\n",
		err ? "faults" : "reads", control);
	basic_faults = rdmsrl_safe(MSR_IA32_VMX_BASIC, &basic) != 0;
	pr_info("boxy_memtest: IA32_VMX_BASIC %s\n",
		basic_faults ? "faults" : "READABLE");
	return cr4_trap == 13 && vmxon_trap == 6 && control_ok && basic_faults
		       ? 0
		       : -EIO;
}

static int __init boxy_memtest_init(void)
{
	void *map;
	unsigned long ones = 0, i;
	bool magic;
	u32 word;

	if (svm) {
		pr_info("boxy_memtest: svm probe %s\n",
			svm_probe() ? "FAILED" : "passed");
		return -EAGAIN;
	}
	if (vmx) {
		pr_info("boxy_memtest: vmx probe %s\n",
			vmx_probe() ? "FAILED" : "passed");
		return -EAGAIN;
	}
	if (!phys || !len || len > (16UL << 20))
		return -EINVAL;
	map = memremap(phys, len, MEMREMAP_WB);
	if (!map) {
		pr_err("boxy_memtest: cannot map 0x%lx+%lu\n", phys, len);
		return -ENOMEM;
	}
	/*
	 * Plain 32-bit loads (a MOV each), the kind of access Boxy emulates
	 * when the host touches memory it does not map.
	 */
	for (i = 0; i + 4 <= len; i += 4) {
		word = READ_ONCE(*(u32 *)(map + i));
		ones += 4 * (word == 0xffffffff);
	}
	/* The VMM image starts with "BOXY" (include/boxy/boot_protocol.hpp). */
	magic = READ_ONCE(*(u32 *)map) == 0x59584f42;
	pr_info("boxy_memtest: 0x%lx+%lu: %lu of %lu bytes 0xff, magic %s\n",
		phys, len, ones, len, magic ? "PRESENT" : "absent");
	memunmap(map);
	return -EAGAIN;
}

module_init(boxy_memtest_init);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("Boxy test: what the host reads at a physical range");
