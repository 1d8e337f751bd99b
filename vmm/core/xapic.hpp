// SPDX-License-Identifier: MIT
//
// Keeping every CPU virtualized across INIT-SIPI-SIPI (docs/architecture.md,
// "CPU start-up"). The host's accesses to its local APIC go through the VMM:
// the xAPIC page is not mapped in the host's nested page tables, so each
// access exits and is emulated here. A write to the ICR that would send INIT
// or a start-up IPI to a virtualized CPU is never sent; it is posted to the
// target's mailbox instead. A CPU waiting to be started sits in HLT with
// interrupts off (firmware AP loops, Linux's offline CPUs); the backend
// intercepts that HLT and parks the CPU in its VMM (park()), which takes the
// INIT, resets the guest to the INIT state and starts it at the SIPI vector.
// No INIT or SIPI reaches a virtualized CPU, so nothing depends on how a CPU
// (or an emulator) treats them in guest mode. Not handled yet: INIT to a CPU
// that is busy running (taken at its next exit, however late), and x2APIC
// (ICR as MSR 0x830); the test hosts run Linux in xAPIC mode.
#pragma once

#include "exits.hpp"

#include <cstdint>

namespace boxy::vmm::xapic {

// Records the local APIC's MMIO base (IA32_APIC_BASE) and removes its page
// from the host's nested page tables. Called once by vmm_init().
// Finds the local APIC's MMIO page (IA32_APIC_BASE), which the host VM's
// nested page tables must leave unmapped so that ICR writes exit.
[[nodiscard]] std::uint64_t init();

[[nodiscard]] bool is_apic_page(std::uint64_t gpa);

// Emulates one host access to the APIC page (the exiting instruction).
[[nodiscard]] ExitAction handle_access(PerCpu& cpu, const ExitInfo& exit, GuestControl& guest);

// The guest halted with interrupts off: nothing but INIT (or NMI/SMI, not
// modelled) can wake it. Waits in the VMM until an INIT is posted.
void park(PerCpu& cpu);

// INIT posted for this CPU? Clears it.
[[nodiscard]] bool take_init(PerCpu& cpu);

// Spins (in the VMM, interrupts off) until a start-up IPI is posted and
// returns its vector. A further INIT while waiting keeps it waiting.
[[nodiscard]] std::uint8_t wait_for_sipi(PerCpu& cpu);

}  // namespace boxy::vmm::xapic
