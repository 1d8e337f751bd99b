// SPDX-License-Identifier: MIT
#include "machine.hpp"

#include "acpi.hpp"
#include "guest_setup.hpp"

#include <ctime>
#include <fmt/format.h>

namespace boxy::vm {
namespace {

// Nanoseconds on one of the host's clocks: the PIT counts on the
// monotonic one, the RTC on the wall clock (UTC).
std::int64_t clock_ns(clockid_t clock)
{
    timespec now{};
    (void)::clock_gettime(clock, &now);
    return (static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000) + now.tv_nsec;
}

}  // namespace

std::string describe_failure(const boxy_vcpu_run& run)
{
    const auto& failed = run.u.failed;
    const char* cause = "unknown cause";
    switch (failed.cause) {
        case BOXY_VM_FAIL_INVALID_STATE: cause = "the CPU refused the vCPU's state"; break;
        case BOXY_VM_FAIL_EMULATION:
            cause = "an I/O or MMIO instruction the VMM cannot emulate";
            break;
        case BOXY_VM_FAIL_UNEXPECTED: cause = "an exit the VMM does not handle"; break;
        default: break;
    }
    return fmt::format("{} (cause {}, vendor code {:#x}, info {:#x} {:#x}, rip {:#x})", cause,
                       failed.cause, failed.vendor_code, failed.info1, failed.info2, failed.rip);
}

Machine::Machine(const Connections& connections)
    : ioapic_{*connections.interrupts, connections.vcpu_count,
              // The MADT gives the I/O APIC the first ID after the vCPUs'.
              static_cast<std::uint8_t>(connections.vcpu_count)},
      keyboard_line_{ioapic_, kKeyboardGsi},
      com1_line_{ioapic_, kCom1Gsi},
      console_line_{ioapic_, kGuestDevices[0].gsi},
      uart_{kCom1Port, *connections.console, com1_line_},
      i8042_{keyboard_line_,
             [power = connections.power] {
                 if (power) {
                     power(PowerEvent::reset);
                 }
             }},
      power_{connections.power},
      pit_{[] { return static_cast<std::uint64_t>(clock_ns(CLOCK_MONOTONIC)); }},
      rtc_{[] { return clock_ns(CLOCK_REALTIME); }},
      console_{*connections.memory, *connections.console,
               [this] { console_slot_.signal_used_buffers(); },
               [this] { console_slot_.set_needs_reset(); }},
      console_transport_{console_},
      console_slot_{console_transport_, console_line_},
      bus_{connections.log}
{
    wire(connections.log);
}

void Machine::wire(const IoBus::Logger& log)
{
    // Fixed, non-overlapping ranges: a failure here is a bug in this list.
    const bool ok = bus_.add_ports(kKeyboardDataPort, 1, i8042_) &&
                    bus_.add_ports(kKeyboardCommandPort, 1, i8042_) &&
                    bus_.add_ports(kCom1Port, kCom1PortCount, uart_) &&
                    bus_.add_ports(kSleepControlPort, 1, power_) &&
                    bus_.add_ports(kSleepStatusPort, 1, power_) &&
                    bus_.add_ports(kResetPort, 1, power_) &&
                    bus_.add_ports(PitChannel2::kCounterPort, 2, pit_) &&
                    bus_.add_ports(PitChannel2::kPortB, 1, pit_) &&
                    bus_.add_ports(CmosRtc::kIndexPort, 2, rtc_) &&
                    bus_.add_mmio(kGuestDevices[0].base, kVirtioMmioStride, console_slot_) &&
                    bus_.add_mmio(kIoApicAddress, kApicPageSize, ioapic_);
    if (!ok && log) {
        log("internal error: overlapping device ranges on the I/O bus");
    }
}

ExitAction Machine::handle_exit(boxy_vcpu_run& run)
{
    switch (run.exit_reason) {
        case BOXY_VM_EXIT_IO: {
            auto& io = run.u.io;
            const std::lock_guard lock{mutex_};
            if (io.in != 0) {
                io.data = bus_.port_read(io.port, io.size);
            } else {
                bus_.port_write(io.port, io.size, io.data);
            }
            return {};
        }
        case BOXY_VM_EXIT_MMIO: {
            auto& mmio = run.u.mmio;
            const std::lock_guard lock{mutex_};
            if (mmio.write != 0) {
                bus_.mmio_write(mmio.gpa, mmio.size, mmio.data);
            } else {
                mmio.data = bus_.mmio_read(mmio.gpa, mmio.size);
            }
            return {};
        }
        case BOXY_VM_EXIT_EOI: {
            if (run.u.eoi.vector <= 0xFF) {
                const std::lock_guard lock{mutex_};
                ioapic_.end_of_interrupt(static_cast<std::uint8_t>(run.u.eoi.vector));
            }
            return {};
        }
        case BOXY_VM_EXIT_SHUTDOWN: return {ExitAction::Kind::shutdown, "triple fault"};
        case BOXY_VM_EXIT_FAILED: return {ExitAction::Kind::failed, describe_failure(run)};
        // Handled inside the kernel; harmless if one comes back.
        case BOXY_VM_EXIT_NONE:
        case BOXY_VM_EXIT_HLT:
        case BOXY_VM_EXIT_INTERRUPTED:
        case BOXY_VM_EXIT_KICK: return {};
        default: break;
    }
    return {ExitAction::Kind::failed, fmt::format("unknown exit reason {}", run.exit_reason)};
}

void Machine::console_input(std::span<const std::uint8_t> bytes)
{
    const std::lock_guard lock{mutex_};
    console_.push_input(bytes);
}

bool Machine::request_shutdown()
{
    const std::lock_guard lock{mutex_};
    return i8042_.press_ctrl_alt_del();
}

std::string Machine::stats_summary() const
{
    const std::lock_guard lock{mutex_};
    const IoBusStats& bus = bus_.stats();
    const IoApicStats& ioapic = ioapic_.stats();
    const VirtioConsoleStats& console = console_.stats();
    return fmt::format(
        "unknown port reads {} writes {}, unknown MMIO reads {} writes {}, bad widths {}; "
        "I/O APIC delivered {}, refused {}, lost while masked {}, no destination {}, "
        "bad vector {}, unsupported delivery {}, bad accesses {}; virtio-console out {} "
        "in {} input dropped {} broken queues {}, transport refused {}; UART bad accesses {}; "
        "i8042 ignored {}; power ignored {}; PIT ignored {}; RTC ignored {}",
        bus.unknown_port_reads, bus.unknown_port_writes, bus.unknown_mmio_reads,
        bus.unknown_mmio_writes, bus.bad_width, ioapic.delivered, ioapic.inject_failures,
        ioapic.lost_while_masked, ioapic.no_destination, ioapic.bad_vector,
        ioapic.unsupported_delivery, ioapic.bad_access, console.output_bytes, console.input_bytes,
        console.input_dropped, console.broken_queues,
        console_transport_.stats().bad_access + console_transport_.stats().unknown_offset +
            console_transport_.stats().wrong_direction + console_transport_.stats().ignored_writes,
        uart_.bad_accesses(), i8042_.ignored_accesses(), power_.ignored_accesses(),
        pit_.ignored_accesses(), rtc_.ignored_accesses());
}

}  // namespace boxy::vm
