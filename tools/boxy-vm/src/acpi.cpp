// SPDX-License-Identifier: MIT
#include "acpi.hpp"

#include "aml.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace boxy::vm {
namespace {

using aml::Bytes;

// --- Fixed tables (ACPI 6.5, 5.2) -------------------------------------------

// 5.2.5.3 "Root System Description Pointer (RSDP) Structure", revision 2.
struct [[gnu::packed]] Rsdp {
    std::array<char, 8> signature;  // "RSD PTR "
    std::uint8_t checksum;          // the first 20 bytes (the ACPI 1.0 part) sum to 0
    std::array<char, 6> oem_id;
    std::uint8_t revision;       // 2: ACPI 2.0+ layout with the XSDT
    std::uint32_t rsdt_address;  // 0: no RSDT, OSPM uses the XSDT
    std::uint32_t length;
    std::uint64_t xsdt_address;
    std::uint8_t extended_checksum;  // the whole structure sums to 0
    std::array<std::uint8_t, 3> reserved;
};
static_assert(offsetof(Rsdp, checksum) == 8 && offsetof(Rsdp, revision) == 15);
static_assert(offsetof(Rsdp, rsdt_address) == 16 && offsetof(Rsdp, length) == 20);
static_assert(offsetof(Rsdp, xsdt_address) == 24 && offsetof(Rsdp, extended_checksum) == 32);
static_assert(sizeof(Rsdp) == 36);
constexpr std::size_t kRsdpV1Size = 20;

// 5.2.6 "System Description Table Header".
struct [[gnu::packed]] SdtHeader {
    std::array<char, 4> signature;
    std::uint32_t length;  // of the whole table, header included
    std::uint8_t revision;
    std::uint8_t checksum;  // the whole table sums to 0
    std::array<char, 6> oem_id;
    std::array<char, 8> oem_table_id;
    std::uint32_t oem_revision;
    std::array<char, 4> creator_id;
    std::uint32_t creator_revision;
};
static_assert(offsetof(SdtHeader, length) == 4 && offsetof(SdtHeader, checksum) == 9);
static_assert(offsetof(SdtHeader, oem_table_id) == 16 && offsetof(SdtHeader, creator_id) == 28);
static_assert(sizeof(SdtHeader) == 36);

// 5.2.3.2 "Generic Address Structure".
struct [[gnu::packed]] GenericAddress {
    std::uint8_t space_id;
    std::uint8_t bit_width;
    std::uint8_t bit_offset;
    std::uint8_t access_size;
    std::uint64_t address;
};
static_assert(sizeof(GenericAddress) == 12);

constexpr std::uint8_t kAddressSpaceSystemIo = 1;  // Table 5.1
constexpr std::uint8_t kAccessSizeByte = 1;

// An 8-bit register at an I/O port.
constexpr GenericAddress io_port_register(std::uint16_t port)
{
    return {kAddressSpaceSystemIo, 8, 0, kAccessSizeByte, port};
}

// 5.2.9 "Fixed ACPI Description Table (FADT)", revision 6. A hardware-
// reduced platform (4.1) has no fixed hardware: every register block, the
// SCI and the FACS stay zero.
struct [[gnu::packed]] Fadt {
    SdtHeader header;
    std::uint32_t firmware_ctrl;  // 36: FACS, none (allowed when HW_REDUCED_ACPI)
    std::uint32_t dsdt;           // 40: 0, X_DSDT is used
    std::uint8_t reserved0;
    std::uint8_t preferred_pm_profile;            // 45
    std::uint16_t sci_int;                        // 46
    std::array<std::uint8_t, 60> fixed_hardware;  // 48-107: SMI_CMD ... MON_ALRM
    std::uint8_t century;                         // 108: the RTC's CMOS century register
    std::uint16_t iapc_boot_arch;                 // 109: 5.2.9.3
    std::uint8_t reserved1;
    std::uint32_t flags;       // 112: Table 5.10 "Fixed ACPI Description Table Fixed Feature Flags"
    GenericAddress reset_reg;  // 116
    std::uint8_t reset_value;
    std::uint16_t arm_boot_arch;
    std::uint8_t minor_version;  // 131
    std::uint64_t x_firmware_ctrl;
    std::uint64_t x_dsdt;                            // 140
    std::array<GenericAddress, 8> x_fixed_hardware;  // 148-243: X_PM1a_EVT_BLK ... X_GPE1_BLK
    GenericAddress sleep_control_reg;                // 244
    GenericAddress sleep_status_reg;                 // 256
    std::uint64_t hypervisor_vendor_identity;        // 268
};
static_assert(offsetof(Fadt, firmware_ctrl) == 36 && offsetof(Fadt, sci_int) == 46);
static_assert(offsetof(Fadt, century) == 108 && offsetof(Fadt, iapc_boot_arch) == 109 &&
              offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, reset_reg) == 116 && offsetof(Fadt, minor_version) == 131);
static_assert(offsetof(Fadt, x_firmware_ctrl) == 132 && offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, sleep_control_reg) == 244);
static_assert(offsetof(Fadt, hypervisor_vendor_identity) == 268 && sizeof(Fadt) == 276);

// Table 5.10 "Fixed ACPI Description Table Fixed Feature Flags".
constexpr std::uint32_t kFadtResetRegSupported = 1U << 10;
// Linux then routes I/O APIC interrupts in physical destination mode (one
// vCPU by APIC ID), the simplest for the I/O APIC model.
constexpr std::uint32_t kFadtForceApicPhysical = 1U << 19;
constexpr std::uint32_t kFadtHwReducedAcpi = 1U << 20;
// 5.2.9.3 "IA-PC Boot Architecture Flags": LEGACY_DEVICES (bit 0) stays
// clear (no PnP BIOS devices); 8042 (bit 1) says whether a keyboard
// controller exists.
constexpr std::uint16_t kBootArch8042 = 1U << 1;
constexpr std::uint16_t kBootArchVgaNotPresent = 1U << 2;
constexpr std::uint16_t kBootArchCmosRtcNotPresent = 1U << 5;

// 5.2.12 "Multiple APIC Description Table (MADT)".
struct [[gnu::packed]] MadtHeader {
    SdtHeader header;
    std::uint32_t local_apic_address;  // 36
    std::uint32_t flags;               // 40: PCAT_COMPAT (bit 0) clear, no 8259s
};
static_assert(sizeof(MadtHeader) == 44);

// 5.2.12.2 "Processor Local APIC Structure".
struct [[gnu::packed]] MadtLocalApic {
    std::uint8_t type;  // 0
    std::uint8_t length;
    std::uint8_t processor_uid;
    std::uint8_t apic_id;
    std::uint32_t flags;
};
static_assert(sizeof(MadtLocalApic) == 8);

// 5.2.12.3 "I/O APIC Structure".
struct [[gnu::packed]] MadtIoApic {
    std::uint8_t type;  // 1
    std::uint8_t length;
    std::uint8_t io_apic_id;
    std::uint8_t reserved;
    std::uint32_t address;
    std::uint32_t gsi_base;
};
static_assert(sizeof(MadtIoApic) == 12 && offsetof(MadtIoApic, gsi_base) == 8);

// 5.2.12.12 "Processor Local x2APIC Structure".
struct [[gnu::packed]] MadtLocalX2Apic {
    std::uint8_t type;  // 9
    std::uint8_t length;
    std::uint16_t reserved;
    std::uint32_t x2apic_id;
    std::uint32_t flags;
    std::uint32_t processor_uid;
};
static_assert(sizeof(MadtLocalX2Apic) == 16 && offsetof(MadtLocalX2Apic, processor_uid) == 12);

constexpr std::uint8_t kMadtLocalApic = 0;
constexpr std::uint8_t kMadtIoApic = 1;
constexpr std::uint8_t kMadtLocalX2Apic = 9;
constexpr std::uint32_t kMadtEnabled = 1U << 0;  // Table 5.23 "Local APIC Flags"

constexpr std::array<char, 6> kOemId{'B', 'O', 'X', 'Y', ' ', ' '};
constexpr std::array<char, 4> kCreatorId{'B', 'O', 'X', 'Y'};
constexpr std::size_t kTableAlignment = 16;

template <class T>
void append(Bytes& out, const T& value)
{
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);  // a packed POD's bytes
    out.insert(out.end(), bytes, bytes + sizeof(T));
}

SdtHeader make_header(const char (&signature)[5], std::uint8_t revision)
{
    SdtHeader header{};
    std::copy_n(signature, 4, header.signature.begin());
    header.revision = revision;
    header.oem_id = kOemId;
    // "BOXY" and the signature: unique per table, as OEM table IDs should be.
    std::copy_n(kCreatorId.begin(), 4, header.oem_table_id.begin());
    std::copy_n(signature, 4, header.oem_table_id.begin() + 4);
    header.oem_revision = 1;
    header.creator_id = kCreatorId;
    header.creator_revision = 1;
    return header;
}

// Sets a finished table's length and checksum (5.2.6).
void seal(Bytes& table)
{
    const auto length = static_cast<std::uint32_t>(table.size());
    std::memcpy(table.data() + offsetof(SdtHeader, length), &length, sizeof(length));
    table[offsetof(SdtHeader, checksum)] = 0;
    table[offsetof(SdtHeader, checksum)] = aml::checksum_of(table);
}

// --- DSDT ----------------------------------------------------------------

// Device (Vxxx) { Name (_HID, "LNRO0005") Name (_UID, n) Name (_CRS, ...) }
void append_virtio_device(Bytes& out, std::uint32_t index, const VirtioMmioDevice& device)
{
    constexpr std::string_view kHex = "0123456789ABCDEF";
    const std::array<char, 4> name{'V', 'R', kHex[(index >> 4) & 0xF], kHex[index & 0xF]};
    Bytes resources;
    aml::append_memory32_fixed(resources, static_cast<std::uint32_t>(device.base),
                               kVirtioMmioRegisterSize);
    aml::append_interrupt(resources, device.gsi, aml::Trigger::level);
    aml::append_end_tag(resources);

    Bytes body;
    aml::append_name(body, "_HID");
    aml::append_string(body, "LNRO0005");  // the virtio-mmio ID Linaro registered
    aml::append_name(body, "_UID");
    aml::append_integer(body, index);
    aml::append_name(body, "_CRS");
    aml::append_buffer(body, resources);
    aml::append_device(out, std::string_view{name.data(), name.size()}, body);
}

// Device (name) { Name (_HID, EisaId (hid)) Name (_UID, 0)
//                 Name (_CRS, ResourceTemplate () { IO ... Interrupt (Edge) { gsi } }) }
// with one IO descriptor per (port, length) pair.
void append_isa_device(Bytes& out, std::string_view name, std::string_view hid,
                       std::span<const std::pair<std::uint16_t, std::uint8_t>> ports,
                       std::uint32_t gsi)
{
    Bytes resources;
    for (const auto& [port, length] : ports) {
        aml::append_io_port(resources, port, length);
    }
    aml::append_interrupt(resources, gsi, aml::Trigger::edge);
    aml::append_end_tag(resources);

    Bytes body;
    aml::append_name(body, "_HID");
    aml::append_integer(body, aml::eisa_id(hid));
    aml::append_name(body, "_UID");
    aml::append_integer(body, 0);
    aml::append_name(body, "_CRS");
    aml::append_buffer(body, resources);
    aml::append_device(out, name, body);
}

// DefinitionBlock ("", "DSDT", 2, ...) {
//     Name (_S5, Package () { 5, 0, 0, 0 })
//     Scope (\_SB) { <ISA devices> <virtio devices> } }
Bytes build_dsdt(const AcpiConfig& config)
{
    Bytes scope_body;
    if (config.isa_devices) {
        // PNP0303: an IBM enhanced (101/102-key) keyboard controller; data
        // port first, then command/status, as Linux's i8042 PnP probe reads
        // them (port 0 and port 1).
        const std::array<std::pair<std::uint16_t, std::uint8_t>, 2> keyboard{
            {{kKeyboardDataPort, 1}, {kKeyboardCommandPort, 1}}};
        append_isa_device(scope_body, "PS2K", "PNP0303", keyboard, kKeyboardGsi);
        // PNP0501: a 16550A-compatible COM port.
        const std::array<std::pair<std::uint16_t, std::uint8_t>, 1> com1{
            {{kCom1Port, kCom1PortCount}}};
        append_isa_device(scope_body, "COM1", "PNP0501", com1, kCom1Gsi);
    }
    for (std::size_t i = 0; i < config.devices.size(); ++i) {
        append_virtio_device(scope_body, static_cast<std::uint32_t>(i), config.devices[i]);
    }
    // Revision 2: integers are 64 bits wide (5.2.11.1).
    Bytes table;
    append(table, make_header("DSDT", 2));
    // 7.4.2 "\_Sx (System States)": SLP_TYPa, SLP_TYPb and two reserved
    // values. On a hardware-reduced platform only SLP_TYPa is used, written
    // into SLEEP_CONTROL_REG; Linux offers power-off only when \_S5 exists.
    const std::array<std::uint64_t, 4> s5{kSleepTypeS5, 0, 0, 0};
    aml::append_name(table, "_S5_");
    aml::append_package(table, s5);
    aml::append_scope(table, "\\_SB_", scope_body);  // RootChar and the NameSeg
    seal(table);
    return table;
}

Bytes build_madt(const AcpiConfig& config)
{
    Bytes table;
    MadtHeader header{make_header("APIC", 5), static_cast<std::uint32_t>(kLocalApicAddress), 0};
    append(table, header);
    // vCPU i has APIC ID i (the VMM's CPUID leaf 1/0xB reports the same).
    for (std::uint32_t cpu = 0; cpu < config.vcpu_count; ++cpu) {
        if (config.cpu_entries == CpuEntryKind::local_apic) {
            const auto id = static_cast<std::uint8_t>(cpu);
            append(table,
                   MadtLocalApic{kMadtLocalApic, sizeof(MadtLocalApic), id, id, kMadtEnabled});
        } else {
            append(table, MadtLocalX2Apic{kMadtLocalX2Apic, sizeof(MadtLocalX2Apic), 0, cpu,
                                          kMadtEnabled, cpu});
        }
    }
    // The I/O APIC takes the first ID after the CPUs': IDs stay distinct.
    append(table,
           MadtIoApic{kMadtIoApic, sizeof(MadtIoApic), static_cast<std::uint8_t>(config.vcpu_count),
                      0, static_cast<std::uint32_t>(kIoApicAddress), 0});
    seal(table);
    return table;
}

Bytes build_fadt(std::uint64_t dsdt_address, bool isa_devices)
{
    Fadt fadt{};
    fadt.header = make_header("FACP", 6);
    // The RTC at 0x70 is there (rtc.hpp) but raises no interrupt: saying
    // "no CMOS RTC" keeps Linux from binding rtc-cmos to IRQ 8, while it
    // still reads the wall clock from it at boot. CENTURY names its
    // century register so that reading needs no guess.
    fadt.iapc_boot_arch = kBootArchVgaNotPresent | kBootArchCmosRtcNotPresent;
    fadt.century = kRtcCenturyRegister;
    if (isa_devices) {
        fadt.iapc_boot_arch |= kBootArch8042;
    }
    fadt.flags = kFadtHwReducedAcpi | kFadtResetRegSupported | kFadtForceApicPhysical;
    fadt.reset_reg = io_port_register(kResetPort);
    fadt.reset_value = kResetValue;
    fadt.sleep_control_reg = io_port_register(kSleepControlPort);
    fadt.sleep_status_reg = io_port_register(kSleepStatusPort);
    fadt.minor_version = 5;  // ACPI 6.5
    fadt.x_dsdt = dsdt_address;
    std::memcpy(&fadt.hypervisor_vendor_identity, "BOXY\0\0\0\0", 8);
    Bytes table;
    append(table, fadt);
    seal(table);
    return table;
}

// 5.2.8 "Extended System Description Table (XSDT)": 64-bit table pointers.
Bytes build_xsdt(std::span<const std::uint64_t> entries)
{
    Bytes table;
    append(table, make_header("XSDT", 1));
    for (const std::uint64_t entry : entries) {
        append(table, entry);
    }
    seal(table);
    return table;
}

Bytes build_rsdp(std::uint64_t xsdt_address)
{
    Rsdp rsdp{};
    std::memcpy(rsdp.signature.data(), "RSD PTR ", rsdp.signature.size());
    rsdp.oem_id = kOemId;
    rsdp.revision = 2;
    rsdp.length = sizeof(Rsdp);
    rsdp.xsdt_address = xsdt_address;
    Bytes bytes;
    append(bytes, rsdp);
    bytes[offsetof(Rsdp, checksum)] = aml::checksum_of(std::span{bytes}.first(kRsdpV1Size));
    bytes[offsetof(Rsdp, extended_checksum)] = aml::checksum_of(bytes);
    return bytes;
}

Result<void, AcpiError> check_config(const AcpiConfig& config)
{
    if (config.vcpu_count == 0 || config.vcpu_count > kMaxVcpus) {
        return make_error(AcpiError::bad_vcpu_count);
    }
    if (config.devices.size() > kMaxVirtioDevices) {
        return make_error(AcpiError::too_many_devices);
    }
    for (std::size_t i = 0; i < config.devices.size(); ++i) {
        const VirtioMmioDevice& device = config.devices[i];
        if (device.base < kVirtioMmioBase ||
            device.base >= kVirtioMmioBase + kVirtioMmioWindowSize ||
            device.base % kVirtioMmioStride != 0) {
            return make_error(AcpiError::bad_device_address);
        }
        if (device.gsi >= kIoApicPins) {
            return make_error(AcpiError::bad_device_gsi);
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (config.devices[j].base == device.base || config.devices[j].gsi == device.gsi) {
                return make_error(AcpiError::duplicate_device);
            }
        }
    }
    return {};
}

std::size_t align_up(std::size_t value)
{
    return (value + kTableAlignment - 1) & ~(kTableAlignment - 1);
}

}  // namespace

std::string_view to_string(AcpiError error)
{
    switch (error) {
        case AcpiError::bad_vcpu_count: return "vCPU count must be between 1 and 254";
        case AcpiError::too_many_devices: return "too many virtio devices (at most 19)";
        case AcpiError::bad_device_address:
            return "virtio-mmio device outside its window or not page aligned";
        case AcpiError::bad_device_gsi: return "virtio-mmio device GSI is not an I/O APIC input";
        case AcpiError::duplicate_device: return "two virtio-mmio devices share an address or GSI";
        case AcpiError::bad_base: return "ACPI tables' guest address not 16-byte aligned";
        case AcpiError::no_space: return "ACPI tables do not fit their memory region";
    }
    return "unknown ACPI error";
}

Result<AcpiTables, AcpiError> write_acpi_tables(std::span<std::uint8_t> out,
                                                std::uint64_t guest_base, const AcpiConfig& config)
{
    BOXY_TRY(check_config(config));
    if (guest_base % kTableAlignment != 0) {
        return make_error(AcpiError::bad_base);
    }

    // Tables without pointers first; their sizes fix everyone's address.
    const Bytes madt = build_madt(config);
    const Bytes dsdt = build_dsdt(config);
    const std::size_t xsdt_entries = 2;  // FADT, MADT
    const std::size_t rsdp_at = 0;
    const std::size_t xsdt_at = align_up(rsdp_at + sizeof(Rsdp));
    const std::size_t fadt_at = align_up(xsdt_at + sizeof(SdtHeader) + 8 * xsdt_entries);
    const std::size_t madt_at = align_up(fadt_at + sizeof(Fadt));
    const std::size_t dsdt_at = align_up(madt_at + madt.size());
    const std::size_t end = dsdt_at + dsdt.size();
    if (end > out.size() || guest_base > UINT64_MAX - end) {
        return make_error(AcpiError::no_space);
    }

    AcpiTables tables{guest_base + rsdp_at, guest_base + xsdt_at, guest_base + fadt_at,
                      guest_base + madt_at, guest_base + dsdt_at, end};
    const Bytes fadt = build_fadt(tables.dsdt, config.isa_devices);
    const std::array<std::uint64_t, xsdt_entries> pointers{tables.fadt, tables.madt};
    const Bytes xsdt = build_xsdt(pointers);
    const Bytes rsdp = build_rsdp(tables.xsdt);

    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(end), std::uint8_t{0});
    const auto place = [&out](std::size_t at, const Bytes& bytes) {
        std::copy(bytes.begin(), bytes.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
    };
    place(rsdp_at, rsdp);
    place(xsdt_at, xsdt);
    place(fadt_at, fadt);
    place(madt_at, madt);
    place(dsdt_at, dsdt);
    return tables;
}

}  // namespace boxy::vm
