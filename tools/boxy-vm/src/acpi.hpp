// SPDX-License-Identifier: MIT
//
// ACPI tables for a service VM: the guest's only description of its
// platform (no PCI), as Firecracker does it. A hardware-reduced FADT (no PM
// timer, no SCI, no FACS) with a reset register and sleep control/status
// registers, a MADT with one local APIC per vCPU and one I/O APIC, and a
// DSDT that declares each virtio-mmio device as an ACPI device "LNRO0005",
// which Linux's virtio_mmio driver (and the BSDs' and Windows' virtio
// drivers) bind to, the \_S5 sleep state, and optionally the two ISA
// devices the per-VM process emulates: a PS/2 keyboard controller and COM1.
// Section numbers are from the ACPI Specification 6.5.
#pragma once

#include <boxy/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace boxy::vm {

// The interrupt controllers' MMIO pages, at the addresses every x86 OS
// assumes (Intel SDM Vol. 3, 11.4.1; the I/O APIC datasheet's default).
// The VMM emulates the local APIC; the per-VM process the I/O APIC.
inline constexpr std::uint64_t kLocalApicAddress = 0xFEE0'0000;
inline constexpr std::uint64_t kIoApicAddress = 0xFEC0'0000;
inline constexpr std::uint64_t kApicPageSize = 0x1000;
inline constexpr std::uint32_t kIoApicPins = 24;  // GSIs 0-23, like the 82093AA

// virtio-mmio register blocks (virtio 1.2, 4.2.2: 0x100 of registers plus
// configuration space; the DSDT declares 0x200), one per 4 KiB page so the
// VMM can trap each device's page alone. The window lies in the 32-bit
// hole below the APICs, far above any RAM a service VM gets.
inline constexpr std::uint64_t kVirtioMmioBase = 0xD000'0000;
inline constexpr std::uint64_t kVirtioMmioStride = 0x1000;
inline constexpr std::uint64_t kVirtioMmioWindowSize = 0x20'0000;
inline constexpr std::uint32_t kVirtioMmioRegisterSize = 0x200;
// GSIs 0-4 stay free for legacy-numbered devices the process may emulate
// one day (timer, keyboard, cascade, COM2, COM1); virtio gets 5-23.
inline constexpr std::uint32_t kFirstVirtioGsi = 5;
inline constexpr std::uint32_t kMaxVirtioDevices = kIoApicPins - kFirstVirtioGsi;
// The platform's fixed I/O ports, which the per-VM process emulates.
//
// Reset: the FADT's RESET_REG (5.2.9, 4.8.3.6) is the PC reset control
// register at 0xCF9; writing RESET_VALUE (RST_CPU | SYS_RST) resets. Linux
// tries it first (reboot=acpi is x86's default).
inline constexpr std::uint16_t kResetPort = 0xCF9;
inline constexpr std::uint8_t kResetValue = 0x06;
// Power off: a hardware-reduced platform has no PM1 control block; OSPM
// enters a sleep state by writing SLP_TYPx << 2 | SLP_EN to the FADT's
// SLEEP_CONTROL_REG (4.8.3.7) and polls WAK_STS in SLEEP_STATUS_REG
// (4.8.3.8). SLP_TYPx comes from the DSDT's \_S5 package (7.4.2).
inline constexpr std::uint16_t kSleepControlPort = 0x600;
inline constexpr std::uint16_t kSleepStatusPort = 0x601;
inline constexpr std::uint8_t kSleepTypeS5 = 5;
inline constexpr std::uint8_t kSleepTypeShift = 2;  // SLP_TYPx, bits 4:2
inline constexpr std::uint8_t kSleepTypeMask = 0x1C;
inline constexpr std::uint8_t kSleepEnable = 0x20;  // SLP_EN, bit 5
inline constexpr std::uint8_t kWakeStatus = 0x80;   // WAK_STS, bit 7
// The CMOS RTC's century register (rtc.hpp), named by the FADT's CENTURY.
inline constexpr std::uint8_t kRtcCenturyRegister = 0x32;
// The ISA devices (AcpiConfig::isa_devices) at their PC/AT places: the
// 8042 keyboard controller (data 0x60, command/status 0x64, IRQ 1) and
// the 16550 UART COM1 (0x3F8-0x3FF, IRQ 4). Their GSIs are the ISA IRQs
// (no interrupt source override), edge triggered, active high.
inline constexpr std::uint16_t kKeyboardDataPort = 0x60;
inline constexpr std::uint16_t kKeyboardCommandPort = 0x64;
inline constexpr std::uint32_t kKeyboardGsi = 1;
inline constexpr std::uint16_t kCom1Port = 0x3F8;
inline constexpr std::uint8_t kCom1PortCount = 8;
inline constexpr std::uint32_t kCom1Gsi = 4;
static_assert(kCom1Gsi < kFirstVirtioGsi && kKeyboardGsi < kFirstVirtioGsi);

// Local APIC IDs are 0..vcpus-1 and the I/O APIC takes the next ID, all in
// 8 bits with 0xFF (broadcast) unused.
inline constexpr std::uint32_t kMaxVcpus = 254;

struct VirtioMmioDevice {
    std::uint64_t base;  // guest-physical, kVirtioMmioStride aligned, in the window
    std::uint32_t gsi;   // I/O APIC input; level triggered, active high
};

// The default placement of device `index`: one page and one GSI each.
[[nodiscard]] constexpr VirtioMmioDevice virtio_mmio_slot(std::uint32_t index)
{
    return {kVirtioMmioBase + std::uint64_t{index} * kVirtioMmioStride, kFirstVirtioGsi + index};
}

// How the MADT lists the vCPUs: Processor Local APIC structures (5.2.12.2),
// which the spec asks for when every APIC ID is below 255, or Processor
// Local x2APIC structures (5.2.12.12). Linux accepts either.
enum class CpuEntryKind : std::uint8_t { local_apic, local_x2apic };

struct AcpiConfig {
    std::uint32_t vcpu_count{1};
    std::span<const VirtioMmioDevice> devices;
    CpuEntryKind cpu_entries{CpuEntryKind::local_apic};
    // Declare the PS/2 keyboard controller and COM1 (PNP0303, PNP0501) in
    // the DSDT and the 8042 in the FADT's IA-PC boot flags. Linux's i8042
    // driver probes only what ACPI PnP lists on an ACPI system.
    bool isa_devices{false};
};

// Guest-physical addresses of the tables written, and the bytes used from
// the start of the output span.
struct AcpiTables {
    std::uint64_t rsdp{0};
    std::uint64_t xsdt{0};
    std::uint64_t fadt{0};
    std::uint64_t madt{0};
    std::uint64_t dsdt{0};
    std::size_t size{0};
};

enum class AcpiError : std::uint8_t {
    bad_vcpu_count,      // 0 or more than kMaxVcpus
    too_many_devices,    // more than kMaxVirtioDevices
    bad_device_address,  // not a stride-aligned slot of the virtio-mmio window
    bad_device_gsi,      // not an I/O APIC input
    duplicate_device,    // two devices share a base address or a GSI
    bad_base,            // guest base not 16-byte aligned (the RSDP's alignment, 5.2.5.1)
    no_space,            // the tables do not fit the output span
};

[[nodiscard]] std::string_view to_string(AcpiError error);

// Writes RSDP, XSDT, FADT, MADT and DSDT (in that order, the RSDP first so
// that a guest-physical base in 0xE0000-0xFFFFF lets legacy OSes find it by
// scanning, 5.2.5.1) into `out`, which the guest sees at `guest_base`.
// Every pointer in the tables is a guest-physical address.
[[nodiscard]] Result<AcpiTables, AcpiError> write_acpi_tables(std::span<std::uint8_t> out,
                                                              std::uint64_t guest_base,
                                                              const AcpiConfig& config);

}  // namespace boxy::vm
