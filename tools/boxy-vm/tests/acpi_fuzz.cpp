// SPDX-License-Identifier: MIT
// ACPI table generation from a VM configuration (vCPU count, virtio-mmio
// devices, table kind, ISA devices) that comes from the user's config: any
// configuration gives tables or an error, never a crash or a write outside
// the output. What is written must parse back: every table the RSDP/XSDT
// chain names lies inside the output and sums to zero, as the ACPI spec
// requires (5.2.5.3 RSDP, 5.2.6 system description table header).
#include "acpi.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr std::uint64_t kBase = 0xE'0000;

std::uint8_t sum(const std::uint8_t* p, std::size_t n)
{
    std::uint8_t s = 0;
    for (std::size_t i = 0; i < n; ++i) {
        s = static_cast<std::uint8_t>(s + p[i]);
    }
    return s;
}

std::uint32_t u32(const std::uint8_t* p)
{
    std::uint32_t v = 0;
    std::memcpy(&v, p, 4);
    return v;
}

std::uint64_t u64(const std::uint8_t* p)
{
    std::uint64_t v = 0;
    std::memcpy(&v, p, 8);
    return v;
}

// A table at guest address `gpa`: inside the written bytes, checksummed.
const std::uint8_t* table(const std::vector<std::uint8_t>& out, std::size_t used, std::uint64_t gpa)
{
    if (gpa < kBase || gpa - kBase + 36 > used) {
        std::abort();
    }
    const std::uint8_t* t = out.data() + (gpa - kBase);
    const std::uint32_t length = u32(t + 4);
    if (length < 36 || gpa - kBase + length > used || sum(t, length) != 0) {
        std::abort();
    }
    return t;
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 4) {
        return 0;
    }
    boxy::vm::AcpiConfig config;
    config.vcpu_count = data[0] | (static_cast<std::uint32_t>(data[1] & 1) << 8);  // 0..511
    config.cpu_entries = (data[2] & 1) != 0 ? boxy::vm::CpuEntryKind::local_x2apic
                                            : boxy::vm::CpuEntryKind::local_apic;
    config.isa_devices = (data[2] & 2) != 0;
    const std::size_t out_size = (std::size_t{data[3]} << 6) + 64;  // up to ~16 KiB
    // The rest: devices, 3 bytes each (slot index or raw garbage, GSI).
    std::vector<boxy::vm::VirtioMmioDevice> devices;
    for (std::size_t i = 4; i + 3 <= size && devices.size() < 40; i += 3) {
        boxy::vm::VirtioMmioDevice d = boxy::vm::virtio_mmio_slot(data[i] % 32);
        if ((data[i + 1] & 0x80) != 0) {
            d.base += data[i + 1] & 0x7F;  // misaligned or outside the window
        }
        d.gsi = data[i + 2] % 32;
        devices.push_back(d);
    }
    config.devices = devices;
    std::vector<std::uint8_t> out(out_size + 64, 0xA5);
    auto tables = boxy::vm::write_acpi_tables({out.data(), out_size}, kBase, config);
    for (std::size_t i = out_size; i < out.size(); ++i) {
        if (out[i] != 0xA5) {
            std::abort();  // wrote past the span
        }
    }
    if (!tables) {
        (void)boxy::vm::to_string(tables.error());
        return 0;
    }
    if (tables->size > out_size || tables->rsdp != kBase) {
        std::abort();
    }
    const std::uint8_t* rsdp = out.data();
    if (std::memcmp(rsdp, "RSD PTR ", 8) != 0 || sum(rsdp, 20) != 0 ||
        sum(rsdp, u32(rsdp + 20)) != 0) {
        std::abort();
    }
    const std::uint8_t* xsdt = table(out, tables->size, u64(rsdp + 24));
    const std::uint32_t entries = (u32(xsdt + 4) - 36) / 8;
    for (std::uint32_t i = 0; i < entries; ++i) {
        const std::uint8_t* t = table(out, tables->size, u64(xsdt + 36 + 8 * i));
        if (std::memcmp(t, "FACP", 4) == 0) {
            (void)table(out, tables->size, u64(t + 140));  // X_DSDT
        }
    }
    return 0;
}
