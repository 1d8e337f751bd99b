// SPDX-License-Identifier: MIT
#include "guest_setup.hpp"

#include "test_kernel.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::vm::test::make_bzimage;
using boxy::vm::test::SyntheticKernel;

TEST_CASE("guest setup: the command line gets tsc_early_khz", "[guest_setup]")
{
    CHECK(guest_cmdline("console=hvc0", 2'400'000) == "console=hvc0 tsc_early_khz=2400000");
    CHECK(guest_cmdline("", 1'000) == "tsc_early_khz=1000");
    // The user's own value wins; an unknown frequency adds nothing.
    CHECK(guest_cmdline("tsc_early_khz=5 quiet", 2'400'000) == "tsc_early_khz=5 quiet");
    CHECK(guest_cmdline("quiet tsc_early_khz=5", 2'400'000) == "quiet tsc_early_khz=5");
    CHECK(guest_cmdline("console=hvc0", 0) == "console=hvc0");
    // Only a whole parameter counts.
    CHECK(guest_cmdline("x.tsc_early_khz=5", 7) == "x.tsc_early_khz=5 tsc_early_khz=7");
    // The reserve covers the longest value.
    CHECK(guest_cmdline("", UINT64_MAX).size() + 1 <= kCmdlineReserve);
}

TEST_CASE("guest setup: boot vCPU registers in the ABI layout", "[guest_setup]")
{
    BootLayout layout;
    layout.entry_point = 0x100'0200;
    const boxy_vcpu_regs regs = to_abi_regs(boot_vcpu_state(layout));
    CHECK(regs.rip == 0x100'0200);
    CHECK(regs.gprs[6] == kZeroPageAddress);  // RSI
    CHECK(regs.gprs[4] == kBootStackTop);     // RSP
    CHECK(regs.gprs[0] == 0);
    CHECK(regs.rflags == 0x2);
    CHECK((regs.cr0 & 0x8000'0001) == 0x8000'0001);  // PG, PE
    CHECK((regs.efer & 0x500) == 0x500);             // LME, LMA
    CHECK(regs.cr3 == kPageTablesAddress);
    CHECK(regs.pat == 0x0007'0406'0007'0406);
    CHECK(regs.mp_state == BOXY_MP_RUNNABLE);
    // VMCB attributes: descriptor bits 40-47 in 7:0, 52-55 in 11:8.
    CHECK(regs.cs.selector == kBootCs);
    CHECK(regs.cs.attrib == 0xA9B);  // G, L, P, DPL 0, code execute/read accessed
    CHECK(regs.cs.limit == 0xFFFF'FFFF);
    CHECK(regs.ds.attrib == 0xC93);  // G, D/B, P, data read/write accessed
    CHECK(regs.ss.attrib == regs.ds.attrib);
    CHECK(regs.tr.selector == kBootTss);
    CHECK(regs.tr.attrib == 0x08B);  // busy 64-bit TSS, present
    CHECK(regs.ldtr.attrib == 0);
    CHECK(regs.gdtr.base == kGdtAddress);
    CHECK(regs.gdtr.limit == kBootTss + 15);
    CHECK(regs.idtr.limit == 0);
}

TEST_CASE("guest setup: kernel, command line and ACPI tables land in RAM", "[guest_setup]")
{
    const auto file = make_bzimage(SyntheticKernel{});
    auto image = parse_bzimage(file);
    REQUIRE(image);
    std::vector<std::uint8_t> ram(kMinMemory);
    const std::vector<std::uint8_t> initrd(5000, 0x1D);
    const std::string cmdline = guest_cmdline("console=hvc0", 3'000'000);
    auto loaded = load_guest(ram, *image, initrd, cmdline, 2);
    REQUIRE(loaded);
    const std::string in_ram{reinterpret_cast<const char*>(ram.data() + kCmdlineAddress)};
    CHECK(in_ram == "console=hvc0 tsc_early_khz=3000000");
    CHECK(loaded->acpi.rsdp == kAcpiAddress);
    CHECK(std::memcmp(ram.data() + kAcpiAddress, "RSD PTR ", 8) == 0);
    CHECK(loaded->boot_vcpu.rip == loaded->layout.entry_point);
    CHECK(ram[loaded->layout.initrd_address] == 0x1D);
    // The DSDT holds the console's virtio-mmio device and the ISA devices.
    const auto dsdt = ram.begin() + static_cast<std::ptrdiff_t>(loaded->acpi.dsdt);
    const std::string lnro = "LNRO0005";
    CHECK(std::search(dsdt, ram.begin() + kHighMemoryStart, lnro.begin(), lnro.end()) !=
          ram.begin() + kHighMemoryStart);
    const std::array<std::uint8_t, 4> keyboard{0x41, 0xD0, 0x03, 0x03};  // EISAID PNP0303
    CHECK(std::search(dsdt, ram.begin() + kHighMemoryStart, keyboard.begin(), keyboard.end()) !=
          ram.begin() + kHighMemoryStart);
}

TEST_CASE("guest setup: plan errors say what to do", "[guest_setup]")
{
    SyntheticKernel k;
    k.cmdline_size = 100;
    const auto file = make_bzimage(k);
    auto image = parse_bzimage(file);
    REQUIRE(image);
    CHECK(plan_guest(*image, kMinMemory, 0, 100 - kCmdlineReserve));
    auto too_long = plan_guest(*image, kMinMemory, 0, 101 - kCmdlineReserve);
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().find("shorten it") != std::string::npos);

    SyntheticKernel big;
    big.init_size = 0x400'0000;  // 64 MiB from 16 MiB does not fit 64 MiB
    const auto big_file = make_bzimage(big);
    auto big_image = parse_bzimage(big_file);
    REQUIRE(big_image);
    auto no_room = plan_guest(*big_image, kMinMemory, 0, 10);
    REQUIRE_FALSE(no_room);
    CHECK(no_room.error().find("more memory") != std::string::npos);
    CHECK(plan_guest(*big_image, 128 * kMiB, 0, 10));
}
