// SPDX-License-Identifier: MIT
#include "boot_params.hpp"

#include "acpi.hpp"
#include "bzimage.hpp"
#include "test_kernel.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using test::make_bzimage;
using test::SyntheticKernel;

namespace {

std::uint64_t read(const std::vector<std::uint8_t>& bytes, std::uint64_t at, std::size_t width)
{
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
        value |= std::uint64_t{bytes.at(at + i)} << (8 * i);
    }
    return value;
}

// A whole guest: plan, ACPI tables, load; as the per-VM process does it.
struct Guest {
    std::vector<std::uint8_t> file;
    BootLayout layout;
    AcpiTables acpi;
    std::vector<std::uint8_t> ram;
};

Guest set_up(std::uint64_t memory, std::uint32_t vcpus, std::uint64_t initrd_size,
             std::string_view cmdline)
{
    Guest guest;
    guest.file = make_bzimage({});
    auto image = parse_bzimage(guest.file);
    REQUIRE(image);
    auto layout = plan_layout(*image, {memory, initrd_size, cmdline.size()});
    REQUIRE(layout);
    guest.layout = *layout;
    guest.ram.assign(memory, 0);
    const std::array<VirtioMmioDevice, 2> devices{virtio_mmio_slot(0), virtio_mmio_slot(1)};
    const AcpiConfig config{vcpus, devices, CpuEntryKind::local_apic};
    auto acpi = write_acpi_tables(
        std::span{guest.ram}.subspan(guest.layout.acpi_address, guest.layout.acpi_size),
        guest.layout.acpi_address, config);
    REQUIRE(acpi);
    guest.acpi = *acpi;
    const std::vector<std::uint8_t> initrd(initrd_size, 0xA5);
    REQUIRE(load_boot_images(guest.ram, *image, guest.layout, initrd, cmdline, acpi->rsdp));
    return guest;
}

std::vector<E820Entry> e820_in_zero_page(const Guest& guest)
{
    const std::uint64_t zp = guest.layout.zero_page_address;
    std::vector<E820Entry> entries(read(guest.ram, zp + 0x1E8, 1));
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::uint64_t at = zp + 0x2D0 + 20 * i;
        entries[i] = {read(guest.ram, at, 8), read(guest.ram, at + 8, 8),
                      static_cast<std::uint32_t>(read(guest.ram, at + 16, 4))};
    }
    return entries;
}

// The e820 type of all of [address, address + size), or 0 if mixed/absent.
std::uint32_t type_of(const std::vector<E820Entry>& map, std::uint64_t address, std::uint64_t size)
{
    for (const auto& entry : map) {
        if (address >= entry.addr && address + size <= entry.addr + entry.size) {
            return entry.type;
        }
    }
    return 0;
}

constexpr std::uint32_t kRam = 1;
constexpr std::uint32_t kReserved = 2;

}  // namespace

TEST_CASE("boot_params: the zero page carries header, loader fields and RSDP", "[boot_params]")
{
    constexpr std::string_view kCmdline = "console=hvc0 root=/dev/vda rw";
    const Guest guest = set_up(256 * kMiB, 1, 8 * kMiB, kCmdline);
    const auto& ram = guest.ram;
    const std::uint64_t zp = kZeroPageAddress;

    CHECK(read(ram, zp + 0x202, 4) == 0x53726448);  // header copied: "HdrS"
    CHECK(read(ram, zp + 0x206, 2) == 0x020F);
    CHECK(read(ram, zp + 0x1FE, 2) == 0xAA55);
    CHECK(read(ram, zp + 0x210, 1) == 0xFF);  // type_of_loader
    CHECK(read(ram, zp + 0x211, 1) == 0x01);  // loadflags untouched
    CHECK(read(ram, zp + 0x228, 4) == kCmdlineAddress);
    CHECK(read(ram, zp + 0x218, 4) == guest.layout.initrd_address);
    CHECK(read(ram, zp + 0x21C, 4) == 8 * kMiB);
    CHECK(read(ram, zp + 0x0C0, 4) == 0);  // ext_ramdisk_image
    CHECK(read(ram, zp + 0x0C4, 4) == 0);
    CHECK(read(ram, zp + 0x0C8, 4) == 0);             // ext_cmd_line_ptr
    CHECK(read(ram, zp + 0x070, 8) == kAcpiAddress);  // acpi_rsdp_addr
    CHECK(read(ram, zp + 0x1EF, 1) == 0);             // sentinel
    CHECK(read(ram, zp + 0x250, 8) == 0);             // setup_data
    CHECK(read(ram, zp + 0x1E8, 1) == 6);             // e820_entries

    CHECK(std::string_view(reinterpret_cast<const char*>(ram.data() + kCmdlineAddress)) ==
          kCmdline);
    CHECK(ram[guest.layout.initrd_address] == 0xA5);
    CHECK(ram[guest.layout.initrd_address + 8 * kMiB - 1] == 0xA5);
    CHECK(guest.layout.initrd_address + 8 * kMiB == 256 * kMiB);  // at the top
    // The kernel's first bytes, as make_bzimage wrote them after 5 sectors.
    CHECK(ram[guest.layout.kernel_address] == static_cast<std::uint8_t>(5 * 512 * 7 + 3));
}

TEST_CASE("boot_params: e820 is sorted, disjoint and covers RAM", "[boot_params][e820]")
{
    const auto memory = GENERATE(64 * kMiB, 256 * kMiB, 1 * kGiB);
    const auto vcpus = GENERATE(1U, 2U, 4U);
    CAPTURE(memory, vcpus);
    const Guest guest = set_up(memory, vcpus, 4 * kMiB, "console=hvc0");
    const auto map = e820_in_zero_page(guest);
    REQUIRE(map.size() >= 3);

    std::uint64_t ram_bytes = 0;
    for (std::size_t i = 0; i < map.size(); ++i) {
        CHECK(map[i].size > 0);
        CHECK((map[i].type == kRam || map[i].type == kReserved));
        if (i > 0) {
            CHECK(map[i - 1].addr + map[i - 1].size <= map[i].addr);  // sorted, disjoint
        }
        if (map[i].type == kRam) {
            CHECK(map[i].addr + map[i].size <= memory);
            ram_bytes += map[i].size;
        }
    }
    // All of RAM but the legacy hole [0x9FC00, 1 MiB).
    CHECK(ram_bytes == memory - (kHighMemoryStart - kLowMemoryEnd));
    CHECK(type_of(map, 0, kLowMemoryEnd) == kRam);
    CHECK(type_of(map, kHighMemoryStart, memory - kHighMemoryStart) == kRam);

    // What the kernel reads at entry is in RAM; what it must keep is not.
    const BootLayout& l = guest.layout;
    CHECK(type_of(map, l.zero_page_address, kPageSize) == kRam);
    CHECK(type_of(map, l.cmdline_address, l.cmdline_size) == kRam);
    CHECK(type_of(map, l.gdt_address, kPageSize) == kRam);
    CHECK(type_of(map, l.page_tables_address, kPageTablesSize) == kRam);
    CHECK(type_of(map, kBootStackTop - kPageSize, kPageSize) == kRam);
    CHECK(type_of(map, l.kernel_runtime_start, l.kernel_runtime_end - l.kernel_runtime_start) ==
          kRam);
    CHECK(type_of(map, l.initrd_address, l.initrd_size) == kRam);
    CHECK(type_of(map, guest.acpi.rsdp, guest.acpi.size) == kReserved);
    CHECK(type_of(map, virtio_mmio_slot(0).base, kVirtioMmioRegisterSize) == kReserved);
    CHECK(type_of(map, kIoApicAddress, kApicPageSize) == kReserved);
    CHECK(type_of(map, kLocalApicAddress, kApicPageSize) == kReserved);
    CHECK(type_of(map, memory, kPageSize) != kRam);
}

TEST_CASE("boot_params: layout planner places kernel and initrd", "[boot_params][layout]")
{
    SyntheticKernel k;
    auto file = make_bzimage(k);
    auto image = parse_bzimage(file);
    REQUIRE(image);

    SECTION("kernel at pref_address, initrd at the top of RAM")
    {
        auto layout = plan_layout(*image, {128 * kMiB, 10 * kMiB + 123, 10});
        REQUIRE(layout);
        CHECK(layout->kernel_address == 16 * kMiB);
        CHECK(layout->kernel_runtime_start == 16 * kMiB);
        CHECK(layout->kernel_runtime_end == 24 * kMiB);
        CHECK(layout->entry_point == 16 * kMiB + 0x200);
        CHECK(layout->initrd_address % kPageSize == 0);
        CHECK(layout->initrd_address + layout->initrd_size <= 128 * kMiB);
        CHECK(layout->initrd_address + layout->initrd_size > 128 * kMiB - kPageSize);
        CHECK(layout->cmdline_size == 11);
    }
    SECTION("initrd below initrd_addr_max, which is the last byte it may use")
    {
        k.initrd_addr_max = 0x37FF'FFFF;
        file = make_bzimage(k);
        auto capped = parse_bzimage(file);
        REQUIRE(capped);
        auto layout = plan_layout(*capped, {1 * kGiB, 16 * kMiB, 0});
        REQUIRE(layout);
        CHECK(layout->initrd_address + layout->initrd_size == 0x3800'0000);
    }
    SECTION("initrd goes below the kernel when above it is no room")
    {
        k.initrd_addr_max = static_cast<std::uint32_t>(20 * kMiB - 1);
        file = make_bzimage(k);
        auto capped = parse_bzimage(file);
        REQUIRE(capped);
        auto layout = plan_layout(*capped, {128 * kMiB, 2 * kMiB, 0});
        REQUIRE(layout);
        CHECK(layout->initrd_address == 14 * kMiB);
        auto too_big = plan_layout(*capped, {128 * kMiB, 15 * kMiB + 1, 0});
        REQUIRE_FALSE(too_big);
        CHECK(too_big.error() == BootError::initrd_does_not_fit);
    }
    SECTION("a pref_address off the alignment: load at 2 MiB, run at pref aligned up")
    {
        k.pref_address = 0x110'0000;
        file = make_bzimage(k);
        auto odd = parse_bzimage(file);
        REQUIRE(odd);
        auto layout = plan_layout(*odd, {64 * kMiB, 0, 0});
        REQUIRE(layout);
        CHECK(layout->kernel_address == 2 * kMiB);
        CHECK(layout->kernel_runtime_start == 18 * kMiB);
        CHECK(layout->initrd_size == 0);
    }
}

TEST_CASE("boot_params: layout planner errors", "[boot_params][layout]")
{
    SyntheticKernel k;
    auto file = make_bzimage(k);
    auto image = parse_bzimage(file);
    REQUIRE(image);
    const auto error_of = [&](const BzImage& img, BootRequest request) {
        auto layout = plan_layout(img, request);
        REQUIRE_FALSE(layout);
        return layout.error();
    };

    CHECK(error_of(*image, {32 * kMiB, 0, 0}) == BootError::memory_too_small);
    CHECK(error_of(*image, {64 * kMiB - kPageSize, 0, 0}) == BootError::memory_too_small);
    CHECK(error_of(*image, {4 * kGiB, 0, 0}) == BootError::memory_too_large);
    CHECK(error_of(*image, {64 * kMiB + 1, 0, 0}) == BootError::memory_unaligned);
    CHECK(error_of(*image, {64 * kMiB, 0, 2048}) == BootError::cmdline_too_long);
    CHECK(plan_layout(*image, {64 * kMiB, 0, 2047}));
    // 64 MiB - 24 MiB (kernel) leaves 40 MiB above and 15 MiB below.
    CHECK(plan_layout(*image, {64 * kMiB, 40 * kMiB, 0}));
    CHECK(error_of(*image, {64 * kMiB, 40 * kMiB + 1, 0}) == BootError::initrd_does_not_fit);
    CHECK(error_of(*image, {64 * kMiB, 1 * kGiB, 0}) == BootError::initrd_does_not_fit);

    k.init_size = static_cast<std::uint32_t>(
        48 * kMiB + kPageSize);  // runtime 16 MiB + 48 MiB + 4 KiB > 64 MiB
    file = make_bzimage(k);
    auto fat = parse_bzimage(file);
    REQUIRE(fat);
    CHECK(error_of(*fat, {64 * kMiB, 0, 0}) == BootError::kernel_does_not_fit);
    CHECK(plan_layout(*fat, {128 * kMiB, 0, 0}));

    k = SyntheticKernel{};
    k.relocatable = 0;
    k.pref_address = 0x9'0000;
    file = make_bzimage(k);
    auto low = parse_bzimage(file);
    REQUIRE(low);
    CHECK(error_of(*low, {64 * kMiB, 0, 0}) == BootError::kernel_address_unusable);

    k.pref_address = 0x1'0000'0000;
    file = make_bzimage(k);
    auto high = parse_bzimage(file);
    REQUIRE(high);
    CHECK(error_of(*high, {64 * kMiB, 0, 0}) == BootError::kernel_does_not_fit);

    for (int e = 0; e <= static_cast<int>(BootError::input_mismatch); ++e) {
        CHECK_FALSE(to_string(static_cast<BootError>(e)).empty());
    }
}

TEST_CASE("boot_params: load_boot_images checks its inputs", "[boot_params]")
{
    auto file = make_bzimage({});
    auto image = parse_bzimage(file);
    REQUIRE(image);
    auto layout = plan_layout(*image, {64 * kMiB, kPageSize, 5});
    REQUIRE(layout);
    const std::vector<std::uint8_t> initrd(kPageSize, 1);
    std::vector<std::uint8_t> ram(64 * kMiB - kPageSize);
    CHECK(load_boot_images(ram, *image, *layout, initrd, "hello", 0).error() ==
          BootError::ram_too_small);
    ram.resize(64 * kMiB);
    CHECK(load_boot_images(ram, *image, *layout, initrd, "hell", 0).error() ==
          BootError::input_mismatch);
    CHECK(load_boot_images(ram, *image, *layout, {}, "hello", 0).error() ==
          BootError::input_mismatch);
    CHECK(
        load_boot_images(ram, *image, *layout, initrd, std::string_view("he\0lo", 5), 0).error() ==
        BootError::cmdline_has_nul);
    CHECK(load_boot_images(ram, *image, *layout, initrd, "hello", 0));
}

TEST_CASE("boot_params: page tables identity-map the first 4 GiB", "[boot_params][paging]")
{
    const Guest guest = set_up(64 * kMiB, 1, 0, "");
    const VcpuBootState state = boot_vcpu_state(guest.layout);
    const auto translate = [&](std::uint64_t va) -> std::uint64_t {
        const std::uint64_t pml4e = read(guest.ram, state.cr3 + 8 * ((va >> 39) & 511), 8);
        REQUIRE((pml4e & 1) == 1);
        const std::uint64_t pdpte =
            read(guest.ram, (pml4e & 0xF'FFFF'FFFF'F000) + 8 * ((va >> 30) & 511), 8);
        REQUIRE((pdpte & 0x81) == 0x01);  // present, not a 1 GiB page
        const std::uint64_t pde =
            read(guest.ram, (pdpte & 0xF'FFFF'FFFF'F000) + 8 * ((va >> 21) & 511), 8);
        REQUIRE((pde & 0x83) == 0x83);  // present, writable, 2 MiB page
        return (pde & 0xF'FFFF'FFE0'0000) | (va & 0x1F'FFFF);
    };
    for (const std::uint64_t va :
         {std::uint64_t{0}, kZeroPageAddress, guest.layout.entry_point, kCmdlineAddress,
          63 * kMiB + 5, kVirtioMmioBase, kLocalApicAddress + 0x300, 4 * kGiB - 1}) {
        CAPTURE(va);
        CHECK(translate(va) == va);
    }
    for (std::uint64_t i = 1; i < 512; ++i) {
        CHECK(read(guest.ram, state.cr3 + 8 * i, 8) == 0);  // nothing above 512 GiB
    }
}

TEST_CASE("boot_params: GDT and the boot vCPU follow the 64-bit protocol", "[boot_params]")
{
    const Guest guest = set_up(128 * kMiB, 2, kMiB, "quiet");
    const VcpuBootState s = boot_vcpu_state(guest.layout);
    CHECK(s.rip == guest.layout.kernel_address + 0x200);
    CHECK(s.rsi == kZeroPageAddress);
    CHECK((s.rflags & (1U << 9)) == 0);           // IF clear
    CHECK((s.cr0 & 0x8000'0001) == 0x8000'0001);  // PG, PE
    CHECK((s.cr4 & (1U << 5)) != 0);              // PAE
    CHECK((s.efer & 0x500) == 0x500);             // LME, LMA
    CHECK(s.cr3 == kPageTablesAddress);

    CHECK(s.cs.selector == 0x10);
    CHECK(s.cs.attributes == 0xA9B);  // G, L, P, S, execute/read accessed
    CHECK(s.cs.limit == 0xFFFF'FFFF);
    for (const auto* data : {&s.ds, &s.es, &s.ss}) {
        CHECK(data->selector == 0x18);
        CHECK(data->attributes == 0xC93);  // G, D/B, P, S, read/write accessed
        CHECK(data->limit == 0xFFFF'FFFF);
        CHECK(data->base == 0);
    }
    CHECK(s.tr.selector == 0x20);
    CHECK((s.tr.attributes & 0x8F) == 0x8B);  // present busy 64-bit TSS
    CHECK(s.tr.limit == 0x67);
    CHECK(s.gdtr.base == kGdtAddress);

    // The descriptors in guest memory are the ones the selectors name.
    CHECK(read(guest.ram, s.gdtr.base + 0x10, 8) == kGdtCode64);
    CHECK(read(guest.ram, s.gdtr.base + 0x18, 8) == kGdtData);
    CHECK(read(guest.ram, s.gdtr.base, 8) == 0);
    const std::uint64_t tss_low = read(guest.ram, s.gdtr.base + 0x20, 8);
    CHECK(((tss_low >> 16) & 0xFF'FFFF) == (s.tr.base & 0xFF'FFFF));
    CHECK(s.gdtr.limit >= 0x20 + 15);
    CHECK(((kGdtCode64 >> 53) & 1) == 1);  // L
    CHECK(((kGdtCode64 >> 54) & 1) == 0);  // D must be 0 with L
}
