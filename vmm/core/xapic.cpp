// SPDX-License-Identifier: MIT
#include "xapic.hpp"

#include "log.hpp"
#include "mmio.hpp"
#include "vmm_state.hpp"

#include <arch/x64/cpu.hpp>
#include <arch/x64/msr.hpp>

namespace boxy::vmm::xapic {
namespace {

// xAPIC registers (SDM Vol. 3, Table 11-1) and ICR fields (Figure 11-12).
constexpr std::uint64_t kIcrLow = 0x300;
constexpr std::uint64_t kIcrHigh = 0x310;
constexpr std::uint32_t kDeliveryModeShift = 8;
constexpr std::uint32_t kModeInit = 5;
constexpr std::uint32_t kModeStartup = 6;
constexpr std::uint32_t kDestinationLogical = 1U << 11;
constexpr std::uint32_t kLevelAssert = 1U << 14;
constexpr std::uint32_t kTriggerLevel = 1U << 15;
constexpr std::uint32_t kShorthandShift = 18;
enum Shorthand : std::uint32_t { none = 0, self = 1, all = 2, all_but_self = 3 };

constinit std::uint64_t apic_base = 0;

volatile std::uint32_t& reg(std::uint64_t offset)
{
    // The VMM's identity map covers the APIC page; MTRRs make it uncached.
    return *reinterpret_cast<volatile std::uint32_t*>(apic_base + offset);
}

PerCpu* cpu_with_apic_id(std::uint32_t apic_id)
{
    auto& s = state();
    for (std::uint32_t i = 0; i < s.cpu_count; ++i) {
        if (s.cpus[i] != nullptr && s.cpus[i]->virtualized != 0 && s.cpus[i]->apic_id == apic_id) {
            return s.cpus[i];
        }
    }
    return nullptr;
}

void post(PerCpu& target, std::uint32_t mode, std::uint32_t vector)
{
    if (mode == kModeInit) {
        target.mailbox.sipi_pending = 0;
        // A CPU waiting for INIT is parked in its VMM (park()), which sees
        // this at once; one running its guest takes it at its next exit.
        __atomic_store_n(&target.mailbox.init_pending, 1U, __ATOMIC_RELEASE);
    } else {
        target.mailbox.sipi_vector = vector;
        __atomic_store_n(&target.mailbox.sipi_pending, 1U, __ATOMIC_RELEASE);
    }
}

// The host wrote ICR low. INIT and SIPI to virtualized CPUs are posted;
// everything else (and INIT/SIPI to CPUs Boxy does not run on) is sent.
void write_icr(PerCpu& sender, std::uint32_t low)
{
    const std::uint32_t mode = (low >> kDeliveryModeShift) & 7;
    const bool startup_ipi = mode == kModeInit || mode == kModeStartup;
    if (!startup_ipi) {
        reg(kIcrLow) = low;
        return;
    }
    // INIT level de-assert (trigger level, level 0) is a no-op on modern
    // CPUs (SDM Vol. 3, 11.6.1) and only exists for the 82489DX.
    if (mode == kModeInit && (low & kTriggerLevel) != 0 && (low & kLevelAssert) == 0) {
        return;
    }
    const auto shorthand = static_cast<Shorthand>((low >> kShorthandShift) & 3);
    const std::uint32_t destination = reg(kIcrHigh) >> 24;
    if (shorthand == none && (low & kDestinationLogical) != 0) {
        log::Line(log::Level::error, sender.index)
            << "INIT/SIPI with a logical destination is not supported; not sent";
        return;
    }
    auto& s = state();
    bool forward = false;
    if (shorthand == none && destination != 0xFF) {
        PerCpu* target = cpu_with_apic_id(destination);
        if (target == nullptr) {
            forward = true;
        } else {
            post(*target, mode, low & 0xFF);
        }
    } else {
        for (std::uint32_t i = 0; i < s.cpu_count; ++i) {
            PerCpu* target = s.cpus[i];
            const bool is_self = target == &sender;
            if (target == nullptr || (shorthand == all_but_self && is_self) ||
                (shorthand == self && !is_self)) {
                continue;
            }
            if (target->virtualized == 0) {
                // boxy.efi virtualizes the APs before the boot CPU, so the
                // first trapped broadcast finds every CPU running.
                log::Line(log::Level::error, sender.index)
                    << "broadcast INIT/SIPI while CPU " << target->index
                    << " is not virtualized: not sent to it";
                continue;
            }
            post(*target, mode, low & 0xFF);
        }
    }
    if (forward) {
        reg(kIcrLow) = low;
    }
    log::Line(log::Level::debug, sender.index)
        << (mode == kModeInit ? "INIT" : "SIPI") << " to APIC " << destination << " (shorthand "
        << static_cast<std::uint64_t>(shorthand) << ")" << (forward ? ", sent natively" : "");
}

void access(void* /*context*/, PerCpu& cpu, MmioRequest& request)
{
    const std::uint64_t offset = request.gpa - apic_base;
    // xAPIC registers are 32 bits wide, 16-byte aligned (SDM Vol. 3, 11.4.1).
    const std::uint64_t aligned = offset & ~std::uint64_t{3};
    if (request.write) {
        const auto value = static_cast<std::uint32_t>(request.value);
        if (aligned == kIcrLow) {
            write_icr(cpu, value);
        } else {
            reg(aligned) = value;
        }
    } else {
        request.value = reg(aligned);
    }
}

}  // namespace

std::uint64_t init()
{
    constexpr std::uint64_t kX2apicEnable = 1ULL << 10;
    const std::uint64_t base_msr = x64::rdmsr(x64::msr::kApicBase);
    apic_base = base_msr & 0x000FFFFFFFFFF000ULL;
    if ((base_msr & kX2apicEnable) != 0) {
        log::Line(log::Level::warn, log::kNoCpu) << "the firmware runs in x2APIC mode, which Boxy "
                                                    "does not trap yet: APs may leave the VMM";
    }
    return apic_base;
}

bool is_apic_page(std::uint64_t gpa)
{
    return apic_base != 0 && (gpa & ~std::uint64_t{0xFFF}) == apic_base;
}

ExitAction handle_access(PerCpu& cpu, const ExitInfo& exit, GuestControl& guest)
{
    const MmioDevice device{access, nullptr};
    return emulate_mmio(cpu, exit, guest, device);
}

void park(PerCpu& cpu)
{
    log::Line(log::Level::debug, cpu.index) << "parked until INIT";
    while (__atomic_load_n(&cpu.mailbox.init_pending, __ATOMIC_ACQUIRE) == 0) {
        asm volatile("pause");
    }
}

bool take_init(PerCpu& cpu)
{
    return __atomic_exchange_n(&cpu.mailbox.init_pending, 0U, __ATOMIC_ACQUIRE) != 0;
}

std::uint8_t wait_for_sipi(PerCpu& cpu)
{
    for (;;) {
        (void)take_init(cpu);
        if (__atomic_exchange_n(&cpu.mailbox.sipi_pending, 0U, __ATOMIC_ACQUIRE) != 0) {
            return static_cast<std::uint8_t>(cpu.mailbox.sipi_vector);
        }
        asm volatile("pause");
    }
}

}  // namespace boxy::vmm::xapic
