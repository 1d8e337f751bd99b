// SPDX-License-Identifier: MIT
//
// The VMM's entry points (include/boxy/boot_protocol.hpp): vmm_init() sets up
// the page pool, the nested page tables of the host VM and the per-CPU
// structures; vmm_start_cpu() virtualizes the calling CPU in place.
#include "log.hpp"
#include "svm/svm.hpp"
#include "vmm_state.hpp"
#include "xapic.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/svm_support.hpp>
#include <boxy/version.hpp>

#include <new>

extern "C" {
extern char __memory_end[];  // vmm/image/vmm.ld: end of the loaded image
extern const std::uint64_t boxy_isr_table[33];
[[noreturn]] void boxy_switch_stack(std::uint64_t top, void (*fn)(void*), void* arg);
void boxy_load_gdt(const void* gdtr, std::uint64_t code_selector, std::uint64_t data_selector);
}

namespace boxy::vmm {
namespace {

constinit VmmState vmm_state;

// The VMM's own GDT: null, 64-bit code, data (SDM Vol. 3, 3.4.5). The host
// state VMRUN saves refers to these selectors, so they must stay valid
// whatever the host OS does with the firmware's GDT.
constexpr std::uint64_t kCodeSelector = 0x08;
constexpr std::uint64_t kDataSelector = 0x10;
alignas(16) constinit std::uint64_t gdt[3] = {0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF};

// 64-bit interrupt gate (SDM Vol. 3, 6.14.1).
struct IdtGate {
    std::uint16_t offset_low;
    std::uint16_t selector;
    std::uint8_t ist;
    std::uint8_t type;  // 0x8E: present, DPL 0, interrupt gate
    std::uint16_t offset_mid;
    std::uint32_t offset_high;
    std::uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);
alignas(16) constinit IdtGate idt[256]{};

void build_idt()
{
    for (unsigned vector = 0; vector < 256; ++vector) {
        // Vectors past 31 are external interrupts; the VMM runs with them
        // masked, so any that arrives is spurious: the shared stub ignores it.
        const std::uint64_t handler = boxy_isr_table[vector < 32 ? vector : 32];
        idt[vector] = {static_cast<std::uint16_t>(handler),
                       kCodeSelector,
                       0,
                       0x8E,
                       static_cast<std::uint16_t>(handler >> 16),
                       static_cast<std::uint32_t>(handler >> 32),
                       0};
    }
}

// Loads the VMM's GDT, IDT and page tables on this CPU. CR4.SMEP/SMAP go:
// the VMM's identity map marks pages user-accessible (the nested-paging
// entry format, reused), which SMEP would refuse to execute.
void enter_vmm_environment()
{
    const x64::DescriptorTableRegister gdtr{sizeof(gdt) - 1, reinterpret_cast<std::uint64_t>(gdt)};
    boxy_load_gdt(&gdtr, kCodeSelector, kDataSelector);
    x64::load_idtr({sizeof(idt) - 1, reinterpret_cast<std::uint64_t>(idt)});
    constexpr std::uint64_t kCr4Smep = 1ULL << 20;
    constexpr std::uint64_t kCr4Smap = 1ULL << 21;
    x64::write_cr4(x64::read_cr4() & ~(kCr4Smep | kCr4Smap));
    x64::write_cr3(vmm_state.vmm_page_table.root().raw());
}

Result<std::uint64_t, MemoryError> allocate(std::uint64_t pages)
{
    auto run = vmm_state.pool.allocate_run(PageCount{pages});
    if (!run) {
        return make_error(run.error());
    }
    return run->raw();
}

VmmStatus init(const BootInfo& boot)
{
    auto& s = vmm_state;
    s.boot = boot;
    s.cpu_count = boot.cpu_count;

    const auto image_end = align_up(reinterpret_cast<std::uint64_t>(__memory_end), kPageSize4K);
    const std::uint64_t region_end = boot.vmm_base + boot.vmm_size;
    auto pool = PageAllocator::create(PhysAddr{image_end},
                                      PageCount{(region_end - image_end) / kPageSize4K},
                                      reinterpret_cast<std::byte*>(image_end));
    if (!pool) {
        return VmmStatus::out_of_memory;
    }
    s.pool = *pool;

    const bool gigabyte_pages = (x64::cpuid(0x80000001).edx & (1U << 26)) != 0;
    const PhysRange vmm_region{PhysAddr{boot.vmm_base}, boot.vmm_size};
    IdentityMapConfig host_map;
    host_map.top = PhysAddr{boot.phys_top};
    host_map.largest_page = gigabyte_pages ? PageSize::size_1g : PageSize::size_2m;
    host_map.holes = {&vmm_region, 1};
    auto npt = NestedPageTable<NptEntry>::identity_map(s.pool, host_map);
    if (!npt) {
        log::Line(log::Level::error, log::kNoCpu)
            << "building nested page tables: " << to_string(npt.error());
        return VmmStatus::out_of_memory;
    }
    s.host_npt = *npt;

    IdentityMapConfig vmm_map = host_map;
    vmm_map.holes = {};
    auto own = NestedPageTable<NptEntry>::identity_map(s.pool, vmm_map);
    if (!own) {
        return VmmStatus::out_of_memory;
    }
    s.vmm_page_table = *own;

    // MSR permission map, 8 KiB (APM Vol. 2, 15.11): two bits per MSR (read,
    // write) in three ranges. Intercept EFER (to hide SVME), VM_CR and
    // VM_HSAVE_PA.
    auto msrpm = allocate(2);
    auto iopm = allocate(3);  // all zero: no port is intercepted
    if (!msrpm || !iopm) {
        return VmmStatus::out_of_memory;
    }
    s.msr_permission_map_pa = *msrpm;
    s.io_permission_map_pa = *iopm;
    auto* map = reinterpret_cast<std::uint8_t*>(*msrpm);
    auto intercept = [map](std::uint32_t msr, std::uint32_t range_base, std::uint32_t byte_offset) {
        const std::uint32_t bit = (msr - range_base) * 2;
        map[byte_offset + bit / 8] |= static_cast<std::uint8_t>(3U << (bit % 8));
    };
    intercept(0xC0000080, 0xC0000000, 0x800);   // EFER
    intercept(0xC0010114, 0xC0010000, 0x1000);  // VM_CR
    intercept(0xC0010117, 0xC0010000, 0x1000);  // VM_HSAVE_PA

    if (!xapic::init()) {
        return VmmStatus::out_of_memory;
    }

    constexpr std::uint32_t kNripSave = 1U << 3;
    constexpr std::uint32_t kVmcbClean = 1U << 5;
    constexpr std::uint32_t kDecodeAssists = 1U << 7;
    const std::uint32_t svm_features = x64::cpuid(0x8000000A).edx;
    s.nrip_save = (svm_features & kNripSave) != 0;
    s.vmcb_clean_bits = (svm_features & kVmcbClean) != 0;
    s.decode_assists = (svm_features & kDecodeAssists) != 0;

    for (std::uint32_t i = 0; i < boot.cpu_count; ++i) {
        auto page = allocate(1);
        auto vmcb = allocate(1);
        auto hsave = allocate(1);
        auto stack = allocate(kStackPages);
        if (!page || !vmcb || !hsave || !stack) {
            return VmmStatus::out_of_memory;
        }
        auto* cpu = new (reinterpret_cast<void*>(*page)) PerCpu{};
        cpu->index = i;
        cpu->vmcb_pa = *vmcb;
        cpu->host_save_pa = *hsave;
        cpu->stack_top = *stack + kStackPages * kPageSize4K;
        s.cpus[i] = cpu;
    }
    build_idt();

    log::Line(log::Level::info, log::kNoCpu)
        << kBanner << ": VMM at " << log::Hex{boot.vmm_base} << " (" << boot.vmm_size / 1024
        << " KiB), " << boot.cpu_count << " CPUs, nested paging up to " << log::Hex{boot.phys_top}
        << " in " << s.host_npt.table_pages() << " table pages, " << s.pool.free_pages().count()
        << " pages free; SVM features: NRIP-save " << (s.nrip_save ? "yes" : "no")
        << ", VMCB clean bits " << (s.vmcb_clean_bits ? "yes" : "no") << ", decode assists "
        << (s.decode_assists ? "yes" : "no");
    return VmmStatus::ok;
}

[[noreturn]] void run_cpu(void* arg)
{
    auto& cpu = *static_cast<PerCpu*>(arg);
    __atomic_add_fetch(&vmm_state.cpus_virtualized, 1U, __ATOMIC_RELAXED);
    __atomic_store_n(&cpu.virtualized, 1U, __ATOMIC_RELEASE);
    log::Line(log::Level::info, cpu.index) << "virtualized (APIC ID " << cpu.apic_id << ")";
    svm::run(cpu);
}

}  // namespace

VmmState& state()
{
    return vmm_state;
}

bool is_vmm_memory(std::uint64_t address, std::uint64_t length)
{
    const std::uint64_t base = vmm_state.boot.vmm_base;
    const std::uint64_t end = base + vmm_state.boot.vmm_size;
    return address < end && address + length > base;
}

}  // namespace boxy::vmm

using namespace boxy;

extern "C" std::int32_t vmm_init(const BootInfo* boot)
{
    if (boot == nullptr || boot->magic != kBootInfoMagic || boot->cpu_count == 0 ||
        boot->cpu_count > vmm::kMaxCpus) {
        return static_cast<std::int32_t>(VmmStatus::bad_boot_info);
    }
    vmm::log::init(static_cast<vmm::log::Level>(boot->log_level));
    if (const auto why = x64::missing_svm_feature(); !why.empty()) {
        vmm::log::Line(vmm::log::Level::error, vmm::log::kNoCpu) << "cannot start: " << why;
        return static_cast<std::int32_t>(VmmStatus::no_svm);
    }
    return static_cast<std::int32_t>(vmm::init(*boot));
}

extern "C" std::int32_t vmm_start_cpu(const LaunchContext* ctx)
{
    const std::uint64_t rflags = x64::read_rflags();
    x64::cli();
    auto& s = vmm::state();
    if (ctx == nullptr || ctx->cpu_index >= s.cpu_count || s.cpus[ctx->cpu_index] == nullptr) {
        return static_cast<std::int32_t>(VmmStatus::bad_cpu);
    }
    vmm::PerCpu& cpu = *s.cpus[ctx->cpu_index];
    cpu.apic_id = x64::cpuid(1).ebx >> 24;
    cpu.stats = vmm::ExitStats{cpu.index, cpu.apic_id};
    const VmmStatus status = svm::prepare_cpu(cpu, *ctx, rflags);
    if (status != VmmStatus::ok) {
        if ((rflags & (1U << 9)) != 0) {
            asm volatile("sti");
        }
        return static_cast<std::int32_t>(status);
    }
    vmm::enter_vmm_environment();
    boxy_switch_stack(cpu.stack_top, vmm::run_cpu, &cpu);
}

// An exception inside the VMM itself: a bug. Say where, then stop.
struct ExceptionFrame {
    std::uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
    std::uint64_t vector, error_code, rip, cs, rflags, rsp, ss;
};

extern "C" [[noreturn]] void boxy_vmm_exception(const ExceptionFrame* f)
{
    using vmm::log::Hex;
    vmm::log::Line(vmm::log::Level::error, vmm::log::kNoCpu)
        << "FATAL: exception " << f->vector << " in the VMM at rip " << Hex{f->rip}
        << ", error code " << Hex{f->error_code} << ", cr2 " << Hex{x64::read_cr2()} << ", rsp "
        << Hex{f->rsp};
    x64::halt_forever();
}
