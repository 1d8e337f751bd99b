// SPDX-License-Identifier: MIT
//
// The VMM's entry points (include/boxy/boot_protocol.hpp): vmm_init() sets up
// the page pool, the nested page tables of the host VM and the per-CPU
// structures; vmm_start_cpu() virtualizes the calling CPU in place.
#include "backend.hpp"
#include "log.hpp"
#include "vmm_state.hpp"
#include "xapic.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/virtualization_support.hpp>
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

// The backend for this CPU's vendor.
const Backend* pick_backend()
{
    return x64::is_intel_cpu() ? &vmx_backend() : &svm_backend();
}

VmmStatus init(const BootInfo& boot, const Backend& backend)
{
    auto& s = vmm_state;
    s.boot = boot;
    s.backend = &backend;
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
    IdentityMapConfig own_map;
    own_map.top = PhysAddr{boot.phys_top};
    own_map.largest_page = gigabyte_pages ? PageSize::size_1g : PageSize::size_2m;
    auto own = NestedPageTable<NptEntry>::identity_map(s.pool, own_map);
    if (!own) {
        log::Line(log::Level::error, log::kNoCpu)
            << "building the VMM's page tables: " << to_string(own.error());
        return VmmStatus::out_of_memory;
    }
    s.vmm_page_table = *own;

    // The host VM sees all of [0, phys_top) but the VMM's region and the
    // xAPIC page, whose accesses the VMM emulates (docs/adr-003).
    const PhysRange holes[] = {PhysRange{PhysAddr{boot.vmm_base}, boot.vmm_size},
                               PhysRange{PhysAddr{xapic::init()}, kPageSize4K}};
    IdentityMapConfig host_map = own_map;
    host_map.holes = holes;
    if (const VmmStatus status = backend.init(s, host_map); status != VmmStatus::ok) {
        return status;
    }

    for (std::uint32_t i = 0; i < boot.cpu_count; ++i) {
        auto page = allocate(1);
        auto vmcb = allocate(1);
        auto hsave = allocate(1);
        auto guard = allocate(1);
        auto stack = allocate(kStackPages);
        if (!page || !vmcb || !hsave || !guard || !stack) {
            return VmmStatus::out_of_memory;
        }
        // The guard page: not mapped in the VMM's own tables, so a stack
        // overflow faults (and stops the machine) instead of silently
        // rewriting this CPU's VMCB and host save area.
        if (!s.vmm_page_table.unmap(PhysRange{PhysAddr{*guard}, kPageSize4K})) {
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
        << kBanner << ": " << backend.name << " VMM at " << log::Hex{boot.vmm_base} << " ("
        << boot.vmm_size / 1024 << " KiB), " << boot.cpu_count << " CPUs, "
        << (late_launched() ? "late launch" : "early boot") << ", host memory map up to "
        << log::Hex{boot.phys_top} << ", " << s.pool.free_pages().count() << " pages free";
    return VmmStatus::ok;
}

// On the VMM's stack: the caller's may not be mapped in the VMM's page
// tables (late launch runs on a kernel stack in vmalloc space).
[[noreturn]] void run_cpu(void* arg)
{
    auto& cpu = *static_cast<PerCpu*>(arg);
    enter_vmm_environment();
    __atomic_add_fetch(&vmm_state.cpus_virtualized, 1U, __ATOMIC_RELAXED);
    __atomic_store_n(&cpu.virtualized, 1U, __ATOMIC_RELEASE);
    log::Line(log::Level::info, cpu.index) << "virtualized (APIC ID " << cpu.apic_id << ")";
    vmm_state.backend->run(cpu);
}

}  // namespace

VmmState& state()
{
    return vmm_state;
}

bool late_launched()
{
    return (vmm_state.boot.flags & kBootFlagLateLaunch) != 0;
}

void mark_left(PerCpu& cpu)
{
    __atomic_store_n(&cpu.virtualized, 0U, __ATOMIC_RELEASE);
    __atomic_sub_fetch(&vmm_state.cpus_virtualized, 1U, __ATOMIC_RELAXED);
    log::Line(log::Level::info, cpu.index) << "left the VMM: running natively";
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
    const vmm::Backend& backend = *vmm::pick_backend();
    if (const auto why = backend.unsupported(); !why.empty()) {
        vmm::log::Line(vmm::log::Level::error, vmm::log::kNoCpu)
            << "cannot start (" << backend.name << "): " << why;
        return static_cast<std::int32_t>(VmmStatus::unsupported_cpu);
    }
    return static_cast<std::int32_t>(vmm::init(*boot, backend));
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
    // A CPU may start again after it left (late launch, CPU hotplug).
    cpu.mailbox.init_pending = 0;
    cpu.mailbox.sipi_pending = 0;
    const VmmStatus status = s.backend->prepare_cpu(cpu, *ctx, rflags);
    if (status != VmmStatus::ok) {
        if ((rflags & (1U << 9)) != 0) {
            asm volatile("sti");
        }
        return static_cast<std::int32_t>(status);
    }
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
