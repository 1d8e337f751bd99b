// SPDX-License-Identifier: MIT
/*
 * Late launch (docs/late-launch.md): boxy.ko starts the VMM on a Linux that
 * is already running, with the same image boxy.efi embeds, and stops it
 * again on rmmod.
 *
 * Start: 4 MiB of physically contiguous memory (the largest buddy block)
 * become the VMM region; the image is copied there and relocated. The VMM
 * runs at its physical addresses, so each call into it happens on "launch
 * page tables": the kernel half of the kernel's own PGD plus an identity
 * map of the region. vmm_init runs once; then a CPU-hotplug state
 * virtualizes every online CPU in place, each from its own CPU, and every
 * CPU that comes online later. A CPU the VMM refuses stays offline, and the
 * log names it.
 *
 * Stop: removing the hotplug state makes each CPU call BOXY_CALL_STOP_CPU
 * (on the launch page tables, as the call requires); the VMM loads the
 * kernel's state into the CPU and resumes it natively. Once no CPU runs
 * under Boxy, the region is scrubbed and freed. A CPU that goes offline
 * leaves Boxy first, so Linux's INIT-SIPI to bring it back reaches it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cc_platform.h>
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/elf.h>
#include <linux/gfp.h>
#include <linux/ioport.h>
#include <linux/irqflags.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/printk.h>
#include <linux/sizes.h>
#include <linux/string.h>

#include <asm/io.h>
#include <asm/msr.h>
#include <asm/pgtable.h>
#include <asm/processor.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>

#include <boxy/abi.h>
#include <boxy/launch.h>

#include "boxy_late.h"

extern const u8 boxy_vmm_image_start[];
extern const u8 boxy_vmm_image_end[];
int boxy_launch_trampoline(u64 start_cpu, struct boxy_launch_context *ctx);

/*
 * The VMM region: one order-10 block, 4 MiB, the largest the buddy
 * allocator hands out (MAX_ORDER 11 in Linux 6.1), naturally aligned, so
 * two 2 MiB pages map it. It holds the image, the VMM's page pool (its page
 * tables and the host VM's nested ones) and 7 pages per possible CPU.
 */
#define BOXY_REGION_ORDER 10
#define BOXY_REGION_SIZE (PAGE_SIZE << BOXY_REGION_ORDER)
#define BOXY_PER_CPU_BYTES (64 * 1024)
#define BOXY_MIN_POOL_BYTES SZ_1M

/* 2 MiB identity leaves: present, writable, executable, supervisor, not global.
 */
#define BOXY_IDENTITY_LEAF \
	(_PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_PSE)

static struct {
	struct page *region;
	u64 base;
	u64 start_cpu; /* physical address of vmm_start_cpu */
	pgd_t *pgd;    /* launch page tables: an order-1 block, see
			  boxy_build_launch_tables() */
	pud_t *pud;
	pmd_t *pmd;
	unsigned long launch_cr3;
	int hp_state;
} late;

static DEFINE_PER_CPU(bool, boxy_cpu_virtualized);

/*
 * The VMM writes its log straight to COM1, which the running kernel's
 * serial console may be using too: by default only warnings and errors.
 */
static uint vmm_log_level = 1;
module_param(vmm_log_level, uint, 0444);
MODULE_PARM_DESC(
	vmm_log_level,
	"Late launch: the VMM's COM1 log level, 0 errors .. 3 debug (default 1, warnings)");

/* What the VMM needs from this CPU; NULL if it can have it. */
static const char *boxy_late_unsupported(void)
{
	if (boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
	    boot_cpu_data.x86_vendor == X86_VENDOR_HYGON) {
		u64 efer;

		if (!boot_cpu_has(X86_FEATURE_SVM))
			return "this AMD CPU does not offer SVM (AMD-V), or the firmware disabled it";
		rdmsrl(MSR_EFER, efer);
		if (efer & EFER_SVME)
			return "SVM is in use by another hypervisor (kvm_amd?): unload it first";
		return NULL;
	}
	if (boot_cpu_data.x86_vendor == X86_VENDOR_INTEL) {
		if (!boot_cpu_has(X86_FEATURE_VMX))
			return "this Intel CPU does not offer VMX (VT-x), or the firmware disabled it";
		if (__read_cr4() & X86_CR4_VMXE)
			return "VMX is in use by another hypervisor (kvm_intel?): unload it first";
		return NULL;
	}
	return "Boxy runs on AMD and Intel CPUs only";
}

/*
 * The end of the physical address space the host VM must see: every
 * resource Linux knows (RAM, MMIO, PCI windows), at least 4 GiB for the
 * 32-bit MMIO hole, rounded up to 1 GiB (what one nested-paging leaf maps).
 */
static u64 boxy_phys_top(void)
{
	u64 top = SZ_4G;
	struct resource *r;

	for (r = iomem_resource.child; r; r = r->sibling)
		top = max_t(u64, top, r->end + 1);
	top = round_up(top, SZ_1G);
	return min_t(u64, top, 1ULL << boot_cpu_data.x86_phys_bits);
}

/* Copies the image into the region and applies its relocations. */
static int boxy_load_image(const struct boxy_vmm_image_header *h)
{
	const u64 file_size = boxy_vmm_image_end - boxy_vmm_image_start;
	u8 *dst = page_address(late.region);
	const Elf64_Rela *rela;
	u64 i;

	memcpy(dst, boxy_vmm_image_start, file_size);
	memset(dst + file_size, 0, BOXY_REGION_SIZE - file_size);
	rela = (const Elf64_Rela *)(dst + h->rela_offset);
	for (i = 0; i < h->rela_size / sizeof(*rela); i++) {
		if (ELF64_R_TYPE(rela[i].r_info) != R_X86_64_RELATIVE ||
		    rela[i].r_offset + 8 > h->memory_size)
			return -ENOEXEC;
		*(u64 *)(dst + rela[i].r_offset) = late.base + rela[i].r_addend;
	}
	return 0;
}

/*
 * The launch page tables: the kernel half of the current PGD (identical in
 * every mm) and, in the user half, the VMM region mapped at its physical
 * address. The PGD is the first page of an 8 KiB-aligned pair, so bit 12
 * of CR3 is clear: with page-table isolation, entry code takes a set bit 12
 * for a user CR3 (arch/x86/entry/calling.h).
 */
static int boxy_build_launch_tables(void)
{
	const pgd_t *kernel_pgd = __va(read_cr3_pa());
	u64 addr;

	late.pgd = (pgd_t *)__get_free_pages(GFP_KERNEL | __GFP_ZERO, 1);
	late.pud = (pud_t *)get_zeroed_page(GFP_KERNEL);
	late.pmd = (pmd_t *)get_zeroed_page(GFP_KERNEL);
	if (!late.pgd || !late.pud || !late.pmd)
		return -ENOMEM;
	memcpy(late.pgd + PTRS_PER_PGD / 2, kernel_pgd + PTRS_PER_PGD / 2,
	       PTRS_PER_PGD / 2 * sizeof(pgd_t));
	late.pgd[pgd_index(late.base)] =
		__pgd(__pa(late.pud) | _KERNPG_TABLE_NOENC);
	late.pud[pud_index(late.base)] =
		__pud(__pa(late.pmd) | _KERNPG_TABLE_NOENC);
	for (addr = late.base; addr < late.base + BOXY_REGION_SIZE;
	     addr += PMD_SIZE)
		late.pmd[pmd_index(addr)] = __pmd(addr | BOXY_IDENTITY_LEAF);
	late.launch_cr3 = __pa(late.pgd);
	return 0;
}

static void boxy_free_region(void)
{
	if (late.region) {
		/* Scrub: the VMM kept guest register state there. */
		memset(page_address(late.region), 0, BOXY_REGION_SIZE);
		__free_pages(late.region, BOXY_REGION_ORDER);
	}
	free_page((unsigned long)late.pmd);
	free_page((unsigned long)late.pud);
	free_pages((unsigned long)late.pgd, 1);
	memset(&late, 0, sizeof(late));
}

/* Calls vmm_init on this CPU, on the launch page tables. */
static int boxy_vmm_init(const struct boxy_vmm_image_header *h)
{
	int (*init)(struct boxy_boot_info *) =
		(int (*)(struct boxy_boot_info *))(late.base + h->init_offset);
	struct boxy_boot_info boot = {
		.magic = BOXY_BOOT_INFO_MAGIC,
		.cpu_count = nr_cpu_ids,
		.vmm_base = late.base,
		.vmm_size = BOXY_REGION_SIZE,
		.phys_top = boxy_phys_top(),
		.log_level = min(vmm_log_level, 3U),
		.flags = BOXY_BOOT_FLAG_LATE_LAUNCH,
	};
	unsigned long flags, cr3;
	int status;

	local_irq_save(flags);
	cr3 = __read_cr3();
	native_write_cr3(late.launch_cr3);
	status = init(&boot);
	native_write_cr3(cr3);
	local_irq_restore(flags);
	return status;
}

/* cpuhp startup, on `cpu` itself: virtualize it in place. */
static int boxy_cpu_online(unsigned int cpu)
{
	struct boxy_launch_context ctx = {.cpu_index = cpu};
	unsigned long flags, cr3;
	int status;

	local_irq_save(flags);
	cr3 = __read_cr3();
	native_write_cr3(late.launch_cr3);
	status = boxy_launch_trampoline(late.start_cpu, &ctx);
	native_write_cr3(cr3);
	if (status == 0)
		this_cpu_write(boxy_cpu_virtualized, true);
	local_irq_restore(flags);
	if (status != 0) {
		pr_err("CPU %u: the VMM refused to run it (status %d; the serial console says why): CPU %u stays offline\n",
		       cpu, status, cpu);
		return -EIO;
	}
	pr_info("CPU %u now runs under Boxy\n", cpu);
	return 0;
}

/* cpuhp teardown, on `cpu` itself: leave the VMM and run natively. */
static int boxy_cpu_offline(unsigned int cpu)
{
	struct boxy_hypercall_regs regs = {};
	unsigned long flags, cr3, status;

	if (!this_cpu_read(boxy_cpu_virtualized))
		return 0;
	local_irq_save(flags);
	cr3 = __read_cr3();
	native_write_cr3(late.launch_cr3);
	status = boxy_hypercall(BOXY_CALL_STOP_CPU, &regs);
	native_write_cr3(cr3);
	if (status == BOXY_STATUS_OK) {
		this_cpu_write(boxy_cpu_virtualized, false);
		/*
		 * The kernel ran in the VM under another address-space tag
		 * (ASID/VPID); what it flushed there never reached the tag
		 * it now runs under again, global entries included.
		 */
		__flush_tlb_all();
	}
	local_irq_restore(flags);
	if (status != BOXY_STATUS_OK) {
		pr_err("CPU %u cannot leave Boxy: %s (%lu)\n", cpu,
		       boxy_status_name(status), status);
		return -EIO;
	}
	pr_info("CPU %u left Boxy and runs natively\n", cpu);
	return 0;
}

int boxy_late_start(void)
{
	const struct boxy_vmm_image_header *h =
		(const void *)boxy_vmm_image_start;
	const u64 file_size = boxy_vmm_image_end - boxy_vmm_image_start;
	const char *why = boxy_late_unsupported();
	u64 needed;
	int err, status;

	if (why) {
		pr_err("cannot start Boxy: %s\n", why);
		return -ENODEV;
	}
	if (pgtable_l5_enabled()) {
		pr_err("cannot start Boxy: the kernel uses 5-level paging; boot with no5lvl\n");
		return -ENODEV;
	}
	if (cc_platform_has(CC_ATTR_MEM_ENCRYPT)) {
		pr_err("cannot start Boxy: memory encryption (SME/SEV/TDX) is active\n");
		return -ENODEV;
	}
	if (file_size < sizeof(*h) || h->magic != BOXY_VMM_IMAGE_MAGIC ||
	    h->version != BOXY_VMM_IMAGE_VERSION || h->file_size != file_size ||
	    h->memory_size < file_size ||
	    h->rela_offset + h->rela_size > file_size ||
	    h->init_offset >= file_size || h->start_cpu_offset >= file_size) {
		pr_err("cannot start Boxy: the VMM image in boxy.ko is damaged; rebuild boxy.ko\n");
		return -ENOEXEC;
	}
	needed = PAGE_ALIGN(h->memory_size) + BOXY_MIN_POOL_BYTES +
		 (u64)nr_cpu_ids * BOXY_PER_CPU_BYTES;
	if (needed > BOXY_REGION_SIZE) {
		pr_err("cannot start Boxy: %u possible CPUs need %llu KiB of VMM memory, more than the %lu KiB late launch can reserve; boot with nr_cpus= or use boxy.efi\n",
		       nr_cpu_ids, needed / 1024, BOXY_REGION_SIZE / 1024);
		return -E2BIG;
	}

	late.region = alloc_pages(GFP_KERNEL | __GFP_NOWARN, BOXY_REGION_ORDER);
	if (!late.region) {
		pr_err("cannot start Boxy: no %lu KiB of physically contiguous memory free; retry after freeing memory (echo 1 > /proc/sys/vm/compact_memory)\n",
		       BOXY_REGION_SIZE / 1024);
		return -ENOMEM;
	}
	late.base = page_to_phys(late.region);
	late.start_cpu = late.base + h->start_cpu_offset;
	err = boxy_load_image(h);
	if (err) {
		pr_err("cannot start Boxy: the VMM image has bad relocations; rebuild boxy.ko\n");
		goto fail;
	}
	err = boxy_build_launch_tables();
	if (err)
		goto fail;
	status = boxy_vmm_init(h);
	if (status != BOXY_VMM_OK) {
		pr_err("cannot start Boxy: the VMM failed to initialise (status %d; the serial console says why)\n",
		       status);
		err = status == BOXY_VMM_OUT_OF_MEMORY ? -ENOMEM : -ENODEV;
		goto fail;
	}
	pr_info("VMM loaded at %#llx (%lu KiB), %u possible CPUs\n", late.base,
		BOXY_REGION_SIZE / 1024, nr_cpu_ids);

	/*
	 * Runs boxy_cpu_online on every online CPU, on that CPU; on failure
	 * it tears down the CPUs already done and returns the error.
	 */
	late.hp_state = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "boxy:online",
					  boxy_cpu_online, boxy_cpu_offline);
	if (late.hp_state < 0) {
		err = late.hp_state;
		pr_err("cannot start Boxy on every CPU (%d): not started\n",
		       err);
		goto fail;
	}
	return 0;
fail:
	boxy_free_region();
	return err;
}

void boxy_late_stop(void)
{
	unsigned int cpu, still = 0;

	/* Runs boxy_cpu_offline on every online CPU, on that CPU. */
	cpuhp_remove_state(late.hp_state);
	for_each_possible_cpu(cpu) {
		if (per_cpu(boxy_cpu_virtualized, cpu))
			still++;
	}
	if (still) {
		/* Freeing memory a CPU's VMM still uses would corrupt it. */
		pr_crit("%u CPU(s) still run under Boxy: its %lu KiB stay reserved\n",
			still, BOXY_REGION_SIZE / 1024);
		return;
	}
	boxy_free_region();
	pr_info("Boxy stopped: every CPU runs natively, %lu KiB of VMM memory returned\n",
		BOXY_REGION_SIZE / 1024);
}
