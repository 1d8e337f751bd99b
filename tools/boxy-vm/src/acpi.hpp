// SPDX-License-Identifier: MIT
//
// ACPI tables for a service VM: the guest's only description of its
// platform (no PCI, no legacy devices), as Firecracker does it. A
// hardware-reduced FADT (no PM timer, no SCI, no FACS), a MADT with one
// local APIC per vCPU and one I/O APIC, and a DSDT that declares each
// virtio-mmio device as an ACPI device "LNRO0005", which Linux's
// virtio_mmio driver (and the BSDs' and Windows' virtio drivers) bind to.
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
