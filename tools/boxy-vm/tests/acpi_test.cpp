// SPDX-License-Identifier: MIT
//
// The ACPI tables read back by a parser of the test's own, written from the
// ACPI 6.5 spec independently of acpi.cpp's structs and encoder.
#include "acpi.hpp"

#include "boot_params.hpp"

#include <catch2/catch.hpp>

#include <numeric>
#include <string>
#include <string_view>
#include <vector>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity

namespace {

constexpr std::uint64_t kBase = kAcpiAddress;

// Guest memory [kBase, kBase + size) as the tables see it.
struct Memory {
    std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(kAcpiRegionSize, 0xEE);

    [[nodiscard]] std::uint64_t read(std::uint64_t address, std::size_t width) const
    {
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < width; ++i) {
            value |= std::uint64_t{bytes.at(address - kBase + i)} << (8 * i);
        }
        return value;
    }
    [[nodiscard]] std::string text(std::uint64_t address, std::size_t length) const
    {
        std::string out;
        for (std::size_t i = 0; i < length; ++i) {
            out.push_back(static_cast<char>(bytes.at(address - kBase + i)));
        }
        return out;
    }
    [[nodiscard]] std::vector<std::uint8_t> slice(std::uint64_t address, std::size_t length) const
    {
        const auto begin = bytes.begin() + static_cast<std::ptrdiff_t>(address - kBase);
        return {begin, begin + static_cast<std::ptrdiff_t>(length)};
    }
    [[nodiscard]] std::uint8_t sum(std::uint64_t address, std::size_t length) const
    {
        const auto s = slice(address, length);
        return static_cast<std::uint8_t>(std::accumulate(s.begin(), s.end(), 0U));
    }
};

// A system description table at `address`: checks signature and checksum
// (5.2.6) and returns its length.
std::uint32_t check_table(const Memory& m, std::uint64_t address, const std::string& signature)
{
    CHECK(m.text(address, 4) == signature);
    const auto length = static_cast<std::uint32_t>(m.read(address + 4, 4));
    REQUIRE(length >= 36);
    CHECK(m.sum(address, length) == 0);
    CHECK(m.text(address + 10, 6) == "BOXY  ");
    return length;
}

struct Walked {
    std::uint64_t fadt = 0;
    std::uint64_t madt = 0;
    std::uint64_t dsdt = 0;
};

// RSDP -> XSDT -> {FADT -> DSDT, MADT}.
Walked walk(const Memory& m, std::uint64_t rsdp)
{
    CHECK(m.text(rsdp, 8) == "RSD PTR ");
    CHECK(m.sum(rsdp, 20) == 0);
    CHECK(m.read(rsdp + 15, 1) == 2);  // revision
    CHECK(m.read(rsdp + 16, 4) == 0);  // no RSDT
    CHECK(m.read(rsdp + 20, 4) == 36);
    CHECK(m.sum(rsdp, 36) == 0);
    const std::uint64_t xsdt = m.read(rsdp + 24, 8);
    const std::uint32_t xsdt_length = check_table(m, xsdt, "XSDT");
    REQUIRE((xsdt_length - 36) % 8 == 0);
    Walked out;
    for (std::uint64_t at = xsdt + 36; at < xsdt + xsdt_length; at += 8) {
        const std::uint64_t table = m.read(at, 8);
        const std::string signature = m.text(table, 4);
        if (signature == "FACP") {
            out.fadt = table;
        } else if (signature == "APIC") {
            out.madt = table;
        } else {
            FAIL("unexpected table " << signature);
        }
    }
    REQUIRE(out.fadt != 0);
    REQUIRE(out.madt != 0);
    CHECK(check_table(m, out.fadt, "FACP") == 276);
    CHECK(m.read(out.fadt + 8, 1) == 6);                   // revision
    CHECK((m.read(out.fadt + 112, 4) & (1U << 20)) != 0);  // flags: HW_REDUCED_ACPI
    CHECK((m.read(out.fadt + 109, 2) & 0x1) == 0);         // no PnP BIOS legacy devices
    CHECK((m.read(out.fadt + 109, 2) & 0x20) != 0);        // no rtc-cmos (no IRQ 8)
    CHECK(m.read(out.fadt + 108, 1) == 0x32);              // CENTURY: the RTC's register
    CHECK(m.read(out.fadt + 36, 4) == 0);                  // no FACS
    CHECK(m.read(out.fadt + 40, 4) == 0);                  // 32-bit DSDT unused
    out.dsdt = m.read(out.fadt + 140, 8);                  // X_DSDT
    check_table(m, out.dsdt, "DSDT");
    check_table(m, out.madt, "APIC");
    return out;
}

// --- AML reader (ACPI 6.5, 20.2) -------------------------------------------

struct IoRange {
    std::uint16_t port = 0;
    std::uint8_t length = 0;
};

struct AmlDevice {
    std::string name;
    std::string hid;  // a string, or an EISA ID decoded to "PNPxxxx"
    std::vector<IoRange> io;
    std::uint64_t uid = ~0ULL;
    std::uint32_t base = 0;
    std::uint32_t length = 0;
    std::uint32_t gsi = 0;
    std::uint8_t irq_flags = 0xFF;
    bool writable = false;
    bool end_tag_sums_to_zero = false;
};

class AmlReader {
public:
    explicit AmlReader(std::vector<std::uint8_t> bytes) : bytes_{std::move(bytes)} {}

    std::uint8_t byte() { return bytes_.at(pos_++); }
    [[nodiscard]] std::size_t pos() const { return pos_; }

    // 20.2.4: returns the end of the package (the length counts itself).
    std::size_t pkg_end()
    {
        const std::size_t start = pos_;
        const std::uint8_t lead = byte();
        const std::size_t follow = lead >> 6;
        std::size_t length = follow == 0 ? (lead & 0x3F) : (lead & 0x0F);
        if (follow != 0) {
            REQUIRE((lead & 0x30) == 0);
        }
        for (std::size_t i = 0; i < follow; ++i) {
            length |= std::size_t{byte()} << (4 + 8 * i);
        }
        return start + length;
    }
    std::string name_seg()
    {
        std::string seg;
        for (int i = 0; i < 4; ++i) {
            seg.push_back(static_cast<char>(byte()));
        }
        return seg;
    }
    std::uint64_t integer()
    {
        const std::uint8_t op = byte();
        const std::size_t width = op == 0x0A   ? 1
                                  : op == 0x0B ? 2
                                  : op == 0x0C ? 4
                                  : op == 0x0E ? 8
                                               : 0;
        if (op == 0x00 || op == 0x01) {
            return op;
        }
        REQUIRE(width != 0);
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < width; ++i) {
            value |= std::uint64_t{byte()} << (8 * i);
        }
        return value;
    }
    [[nodiscard]] std::uint8_t peek() const { return bytes_.at(pos_); }
    std::string string()
    {
        REQUIRE(byte() == 0x0D);
        std::string text;
        for (std::uint8_t c = byte(); c != 0; c = byte()) {
            text.push_back(static_cast<char>(c));
        }
        return text;
    }
    std::vector<std::uint8_t> buffer()
    {
        REQUIRE(byte() == 0x11);
        const std::size_t end = pkg_end();
        const std::uint64_t size = integer();
        REQUIRE(pos_ + size == end);
        std::vector<std::uint8_t> out(bytes_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                      bytes_.begin() + static_cast<std::ptrdiff_t>(end));
        pos_ = end;
        return out;
    }

private:
    std::vector<std::uint8_t> bytes_;
    std::size_t pos_ = 0;
};

std::uint32_t le32(const std::vector<std::uint8_t>& b, std::size_t at)
{
    return static_cast<std::uint32_t>(b.at(at) | (b.at(at + 1) << 8) | (b.at(at + 2) << 16) |
                                      (std::uint32_t{b.at(at + 3)} << 24));
}

// Resource template (6.4): Memory32Fixed, Extended Interrupt, End Tag.
void parse_resources(const std::vector<std::uint8_t>& r, AmlDevice& device)
{
    std::size_t at = 0;
    while (at < r.size()) {
        const std::uint8_t tag = r.at(at);
        if (tag == 0x79) {  // End Tag (6.4.2.9)
            const auto sum =
                std::accumulate(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(at + 2), 0U);
            device.end_tag_sums_to_zero = (sum & 0xFF) == 0;
            CHECK(at + 2 == r.size());
            return;
        }
        if (tag == 0x47) {  // I/O Port Descriptor (6.4.2.5)
            REQUIRE(at + 8 <= r.size());
            CHECK(r.at(at + 1) == 1);  // 16-bit decode
            const auto min = static_cast<std::uint16_t>(r.at(at + 2) | (r.at(at + 3) << 8));
            const auto max = static_cast<std::uint16_t>(r.at(at + 4) | (r.at(at + 5) << 8));
            CHECK(min == max);  // a fixed range
            device.io.push_back({min, r.at(at + 7)});
            at += 8;
            continue;
        }
        REQUIRE((tag & 0x80) != 0);  // a large item
        const std::size_t length = r.at(at + 1) | (std::size_t{r.at(at + 2)} << 8);
        if (tag == 0x86) {  // 32-Bit Fixed Memory Range (6.4.3.4)
            REQUIRE(length == 9);
            device.writable = (r.at(at + 3) & 1) != 0;
            device.base = le32(r, at + 4);
            device.length = le32(r, at + 8);
        } else if (tag == 0x89) {  // Extended Interrupt (6.4.3.6)
            REQUIRE(length >= 6);
            device.irq_flags = r.at(at + 3);
            REQUIRE(r.at(at + 4) == 1);  // one interrupt
            device.gsi = le32(r, at + 5);
        } else {
            FAIL("unexpected resource descriptor " << int{tag});
        }
        at += 3 + length;
    }
    FAIL("resource template without End Tag");
}

// EISAID (6.1.5): three 5-bit letters and four hex digits, stored big endian.
std::string decode_eisa_id(std::uint64_t value)
{
    const auto swapped =
        static_cast<std::uint32_t>(((value & 0xFF) << 24) | ((value & 0xFF00) << 8) |
                                   ((value >> 8) & 0xFF00) | ((value >> 24) & 0xFF));
    std::string id;
    id.push_back(static_cast<char>('@' + ((swapped >> 26) & 0x1F)));
    id.push_back(static_cast<char>('@' + ((swapped >> 21) & 0x1F)));
    id.push_back(static_cast<char>('@' + ((swapped >> 16) & 0x1F)));
    constexpr std::string_view kHex = "0123456789ABCDEF";
    for (int shift = 12; shift >= 0; shift -= 4) {
        id.push_back(kHex[(swapped >> shift) & 0xF]);
    }
    return id;
}

struct Dsdt {
    std::vector<std::uint64_t> s5;  // the \_S5 package, empty if none
    std::vector<AmlDevice> devices;
};

// DSDT: Name (_S5_, Package () {...})
//       Scope (\_SB) { Device (...) { Name (_HID) Name (_UID) Name (_CRS) } ... }
Dsdt parse_dsdt_all(const Memory& m, std::uint64_t dsdt)
{
    const auto length = static_cast<std::uint32_t>(m.read(dsdt + 4, 4));
    AmlReader aml(m.slice(dsdt + 36, length - 36));
    Dsdt out;
    REQUIRE(aml.byte() == 0x08);  // NameOp
    REQUIRE(aml.name_seg() == "_S5_");
    REQUIRE(aml.byte() == 0x12);  // PackageOp
    const std::size_t package_end = aml.pkg_end();
    const std::uint8_t elements = aml.byte();
    for (std::uint8_t i = 0; i < elements; ++i) {
        out.s5.push_back(aml.integer());
    }
    REQUIRE(aml.pos() == package_end);
    REQUIRE(aml.byte() == 0x10);  // ScopeOp
    const std::size_t scope_end = aml.pkg_end();
    CHECK(scope_end == length - 36);
    REQUIRE(aml.byte() == '\\');
    CHECK(aml.name_seg() == "_SB_");
    std::vector<AmlDevice>& devices = out.devices;
    while (aml.pos() < scope_end) {
        REQUIRE(aml.byte() == 0x5B);  // ExtOpPrefix
        REQUIRE(aml.byte() == 0x82);  // DeviceOp
        const std::size_t device_end = aml.pkg_end();
        AmlDevice device;
        device.name = aml.name_seg();
        while (aml.pos() < device_end) {
            REQUIRE(aml.byte() == 0x08);  // NameOp
            const std::string name = aml.name_seg();
            if (name == "_HID") {
                device.hid = aml.peek() == 0x0D ? aml.string() : decode_eisa_id(aml.integer());
            } else if (name == "_UID") {
                device.uid = aml.integer();
            } else if (name == "_CRS") {
                parse_resources(aml.buffer(), device);
            } else {
                FAIL("unexpected name " << name);
            }
        }
        REQUIRE(aml.pos() == device_end);
        devices.push_back(device);
    }
    REQUIRE(aml.pos() == scope_end);
    return out;
}

std::vector<AmlDevice> parse_dsdt(const Memory& m, std::uint64_t dsdt)
{
    return parse_dsdt_all(m, dsdt).devices;
}

std::vector<VirtioMmioDevice> slots(std::uint32_t count)
{
    std::vector<VirtioMmioDevice> devices;
    for (std::uint32_t i = 0; i < count; ++i) {
        devices.push_back(virtio_mmio_slot(i));
    }
    return devices;
}

}  // namespace

TEST_CASE("acpi: tables chain and sum to zero", "[acpi]")
{
    Memory m;
    const auto devices = slots(2);
    auto tables = write_acpi_tables(m.bytes, kBase, {1, devices, CpuEntryKind::local_apic});
    REQUIRE(tables);
    CHECK(tables->rsdp == kBase);
    const Walked walked = walk(m, tables->rsdp);
    CHECK(walked.fadt == tables->fadt);
    CHECK(walked.madt == tables->madt);
    CHECK(walked.dsdt == tables->dsdt);
    CHECK(tables->dsdt + m.read(tables->dsdt + 4, 4) == kBase + tables->size);
    CHECK(m.bytes[tables->size] == 0xEE);  // nothing written past the end
}

TEST_CASE("acpi: MADT lists every vCPU and one I/O APIC", "[acpi][madt]")
{
    const auto vcpus = GENERATE(1U, 2U, 4U, 64U, 254U);
    const auto kind = GENERATE(CpuEntryKind::local_apic, CpuEntryKind::local_x2apic);
    CAPTURE(vcpus, static_cast<int>(kind));
    Memory m;
    auto tables = write_acpi_tables(m.bytes, kBase, {vcpus, {}, kind});
    REQUIRE(tables);
    const std::uint64_t madt = walk(m, tables->rsdp).madt;
    const auto length = static_cast<std::uint32_t>(m.read(madt + 4, 4));
    CHECK(m.read(madt + 36, 4) == kLocalApicAddress);
    CHECK(m.read(madt + 40, 4) == 0);  // no PCAT_COMPAT: no 8259s

    std::vector<std::uint32_t> apic_ids;
    std::uint64_t cpu_entry_type = 0xFF;
    int io_apics = 0;
    for (std::uint64_t at = madt + 44; at < madt + length;) {
        const auto type = m.read(at, 1);
        const auto entry_length = m.read(at + 1, 1);
        REQUIRE(entry_length >= 2);
        if (type == 0 || type == 9) {
            CHECK((cpu_entry_type == 0xFF || cpu_entry_type == type));  // one kind only
            cpu_entry_type = type;
        }
        if (type == 0) {
            REQUIRE(entry_length == 8);
            CHECK(m.read(at + 4, 4) == 1);                  // enabled
            CHECK(m.read(at + 2, 1) == m.read(at + 3, 1));  // UID = APIC ID
            apic_ids.push_back(static_cast<std::uint32_t>(m.read(at + 3, 1)));
        } else if (type == 9) {
            REQUIRE(entry_length == 16);
            CHECK(m.read(at + 8, 4) == 1);
            apic_ids.push_back(static_cast<std::uint32_t>(m.read(at + 4, 4)));
        } else if (type == 1) {
            REQUIRE(entry_length == 12);
            ++io_apics;
            CHECK(m.read(at + 2, 1) == vcpus);  // ID after the CPUs'
            CHECK(m.read(at + 4, 4) == kIoApicAddress);
            CHECK(m.read(at + 8, 4) == 0);  // GSI base
        } else {
            FAIL("unexpected MADT entry type " << type);
        }
        at += entry_length;
    }
    CHECK(io_apics == 1);
    REQUIRE(apic_ids.size() == vcpus);
    for (std::uint32_t i = 0; i < vcpus; ++i) {
        CHECK(apic_ids[i] == i);
    }
    CHECK(cpu_entry_type == (kind == CpuEntryKind::local_apic ? 0 : 9));
}

TEST_CASE("acpi: DSDT declares one LNRO0005 device per virtio-mmio device", "[acpi][dsdt]")
{
    const auto count = GENERATE(0U, 1U, 3U, kMaxVirtioDevices);
    CAPTURE(count);
    Memory m;
    auto devices = slots(count);
    if (count == 3) {  // not only the default slots
        devices[1] = {kVirtioMmioBase + 0x1F'F000, 23};
    }
    auto tables = write_acpi_tables(m.bytes, kBase, {4, devices, CpuEntryKind::local_apic});
    REQUIRE(tables);
    const auto parsed = parse_dsdt(m, walk(m, tables->rsdp).dsdt);
    REQUIRE(parsed.size() == count);
    for (std::size_t i = 0; i < count; ++i) {
        CAPTURE(i);
        CHECK(parsed[i].hid == "LNRO0005");
        CHECK(parsed[i].uid == i);
        CHECK(parsed[i].name.size() == 4);
        CHECK(parsed[i].base == devices[i].base);
        CHECK(parsed[i].length == 0x200);
        CHECK(parsed[i].writable);
        CHECK(parsed[i].gsi == devices[i].gsi);
        CHECK(parsed[i].irq_flags == 0x01);  // consumer, level, active high, exclusive
        CHECK(parsed[i].end_tag_sums_to_zero);
        for (std::size_t j = 0; j < i; ++j) {
            CHECK(parsed[j].name != parsed[i].name);
        }
    }
}

TEST_CASE("acpi: configuration and space errors", "[acpi]")
{
    Memory m;
    const auto error_of = [&](std::uint32_t vcpus, std::vector<VirtioMmioDevice> devices) {
        auto tables = write_acpi_tables(m.bytes, kBase, {vcpus, devices, CpuEntryKind::local_apic});
        REQUIRE_FALSE(tables);
        return tables.error();
    };
    CHECK(error_of(0, {}) == AcpiError::bad_vcpu_count);
    CHECK(error_of(kMaxVcpus + 1, {}) == AcpiError::bad_vcpu_count);
    CHECK(error_of(1, slots(kMaxVirtioDevices + 1)) == AcpiError::too_many_devices);
    CHECK(error_of(1, {{kVirtioMmioBase - kVirtioMmioStride, 5}}) == AcpiError::bad_device_address);
    CHECK(error_of(1, {{kVirtioMmioBase + kVirtioMmioWindowSize, 5}}) ==
          AcpiError::bad_device_address);
    CHECK(error_of(1, {{kVirtioMmioBase + 0x200, 5}}) == AcpiError::bad_device_address);
    CHECK(error_of(1, {{kVirtioMmioBase, kIoApicPins}}) == AcpiError::bad_device_gsi);
    CHECK(error_of(1, {virtio_mmio_slot(0), {kVirtioMmioBase, 9}}) == AcpiError::duplicate_device);
    CHECK(error_of(1, {virtio_mmio_slot(0), {kVirtioMmioBase + 0x1000, 5}}) ==
          AcpiError::duplicate_device);

    const auto devices = slots(3);
    auto unaligned = write_acpi_tables(m.bytes, kBase + 8, {1, devices, CpuEntryKind::local_apic});
    REQUIRE_FALSE(unaligned);
    CHECK(unaligned.error() == AcpiError::bad_base);
    auto fits = write_acpi_tables(m.bytes, kBase, {1, devices, CpuEntryKind::local_apic});
    REQUIRE(fits);
    std::vector<std::uint8_t> small(fits->size - 1);
    auto too_small = write_acpi_tables(small, kBase, {1, devices, CpuEntryKind::local_apic});
    REQUIRE_FALSE(too_small);
    CHECK(too_small.error() == AcpiError::no_space);
    std::vector<std::uint8_t> exact(fits->size);
    CHECK(write_acpi_tables(exact, kBase, {1, devices, CpuEntryKind::local_apic}));

    for (int e = 0; e <= static_cast<int>(AcpiError::no_space); ++e) {
        CHECK_FALSE(to_string(static_cast<AcpiError>(e)).empty());
    }
}

TEST_CASE("acpi: the largest configuration fits the reserved region", "[acpi]")
{
    Memory m;
    const auto devices = slots(kMaxVirtioDevices);
    auto tables =
        write_acpi_tables(m.bytes, kBase, {kMaxVcpus, devices, CpuEntryKind::local_x2apic, true});
    REQUIRE(tables);
    CHECK(tables->size <= kAcpiRegionSize);
    CHECK(kAcpiAddress + kAcpiRegionSize == kHighMemoryStart);
}

TEST_CASE("acpi: FADT declares the reset register and the sleep registers", "[acpi][fadt]")
{
    Memory m;
    auto tables = write_acpi_tables(m.bytes, kBase, {2, {}, CpuEntryKind::local_apic});
    REQUIRE(tables);
    const std::uint64_t fadt = walk(m, tables->rsdp).fadt;
    const std::uint64_t flags = m.read(fadt + 112, 4);
    CHECK((flags & (1U << 10)) != 0);  // RESET_REG_SUP
    CHECK((flags & (1U << 19)) != 0);  // FORCE_APIC_PHYSICAL_DESTINATION_MODE
    // Generic Address Structures (5.2.3.2): system I/O, 8 bits, offset 0, byte access.
    const auto check_io_register = [&](std::uint64_t at, std::uint64_t port) {
        CHECK(m.read(at, 1) == 1);
        CHECK(m.read(at + 1, 1) == 8);
        CHECK(m.read(at + 2, 1) == 0);
        CHECK(m.read(at + 3, 1) == 1);
        CHECK(m.read(at + 4, 8) == port);
    };
    check_io_register(fadt + 116, 0xCF9);  // RESET_REG
    CHECK(m.read(fadt + 128, 1) == 0x06);  // RESET_VALUE
    check_io_register(fadt + 244, kSleepControlPort);
    check_io_register(fadt + 256, kSleepStatusPort);
    CHECK(kSleepControlPort != kSleepStatusPort);
    // Without ISA devices, no 8042.
    CHECK((m.read(fadt + 109, 2) & 0x2) == 0);
}

TEST_CASE("acpi: DSDT declares \\_S5 with the sleep type the process powers off on", "[acpi][dsdt]")
{
    Memory m;
    auto tables = write_acpi_tables(m.bytes, kBase, {1, {}, CpuEntryKind::local_apic});
    REQUIRE(tables);
    const Dsdt dsdt = parse_dsdt_all(m, walk(m, tables->rsdp).dsdt);
    REQUIRE(dsdt.s5.size() == 4);
    CHECK(dsdt.s5[0] == kSleepTypeS5);  // SLP_TYPa
    CHECK(dsdt.devices.empty());
    // SLP_TYPx << 2 | SLP_EN, as ACPICA's acpi_hw_extended_sleep writes it.
    CHECK(((kSleepTypeS5 << kSleepTypeShift) & kSleepTypeMask) == 0x14);
}

TEST_CASE("acpi: ISA devices: PS/2 keyboard controller and COM1 as PnP devices", "[acpi][dsdt]")
{
    Memory m;
    const auto devices = slots(2);
    AcpiConfig config{2, devices, CpuEntryKind::local_apic};
    config.isa_devices = true;
    auto tables = write_acpi_tables(m.bytes, kBase, config);
    REQUIRE(tables);
    const Walked walked = walk(m, tables->rsdp);
    CHECK((m.read(walked.fadt + 109, 2) & 0x2) != 0);  // 8042 present
    const auto parsed = parse_dsdt(m, walked.dsdt);
    REQUIRE(parsed.size() == 4);

    const AmlDevice& keyboard = parsed[0];
    CHECK(keyboard.hid == "PNP0303");
    REQUIRE(keyboard.io.size() == 2);
    // Linux's i8042 PnP probe takes port 0 as data and port 1 as command.
    CHECK(keyboard.io[0].port == 0x60);
    CHECK(keyboard.io[0].length == 1);
    CHECK(keyboard.io[1].port == 0x64);
    CHECK(keyboard.io[1].length == 1);
    CHECK(keyboard.gsi == 1);
    CHECK(keyboard.irq_flags == 0x03);  // consumer, edge, active high, exclusive
    CHECK(keyboard.end_tag_sums_to_zero);

    const AmlDevice& com1 = parsed[1];
    CHECK(com1.hid == "PNP0501");
    REQUIRE(com1.io.size() == 1);
    CHECK(com1.io[0].port == 0x3F8);
    CHECK(com1.io[0].length == 8);
    CHECK(com1.gsi == 4);
    CHECK(com1.irq_flags == 0x03);
    CHECK(com1.end_tag_sums_to_zero);
    CHECK(com1.name != keyboard.name);

    // The virtio devices follow, unchanged.
    CHECK(parsed[2].hid == "LNRO0005");
    CHECK(parsed[2].uid == 0);
    CHECK(parsed[2].base == devices[0].base);
    CHECK(parsed[3].gsi == devices[1].gsi);
}

TEST_CASE("acpi: EISA IDs encode as ACPI's compressed form", "[acpi]")
{
    CHECK(decode_eisa_id(0x0303'D041) == "PNP0303");
    CHECK(decode_eisa_id(0x0105'D041) == "PNP0501");
    CHECK(decode_eisa_id(0x080A'D041) == "PNP0A08");  // a known one: PCI Express bus
}
