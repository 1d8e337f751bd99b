// SPDX-License-Identifier: MIT
//
// The board: exits from the run page reach the right device, answers land
// in the run page, interrupts take the I/O APIC route to the sink, power
// events come out.
#include "machine.hpp"

#include "acpi.hpp"
#include "fake_guest.hpp"
#include "fakes.hpp"
#include "vm_runtime.hpp"

#include <catch2/catch.hpp>

#include <vector>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::virtio::test::FakeGuest;
using boxy::vm::test::FakeConsole;
using boxy::vm::test::FakeSink;
using boxy::vm::test::Injection;

namespace {

struct Board {
    FakeGuest guest{16};
    FakeSink sink;
    FakeConsole console;
    std::vector<PowerEvent> power;
    std::vector<std::string> log;
    Machine machine{{&guest.memory(), 2, &sink, &console,
                     [this](PowerEvent event) { power.push_back(event); },
                     [this](const std::string& line) { log.push_back(line); }}};

    boxy_vcpu_run run{};

    ExitAction out(std::uint16_t port, std::uint8_t size, std::uint32_t value)
    {
        run = {};
        run.exit_reason = BOXY_VM_EXIT_IO;
        run.u.io = {port, size, 0, value};
        return machine.handle_exit(run);
    }
    std::uint32_t in(std::uint16_t port, std::uint8_t size)
    {
        run = {};
        run.exit_reason = BOXY_VM_EXIT_IO;
        run.u.io = {port, size, 1, 0xDEAD'BEEF};
        REQUIRE(machine.handle_exit(run).kind == ExitAction::Kind::resume);
        return run.u.io.data;
    }
    void store(std::uint64_t gpa, std::uint8_t size, std::uint64_t value)
    {
        run = {};
        run.exit_reason = BOXY_VM_EXIT_MMIO;
        run.u.mmio.gpa = gpa;
        run.u.mmio.data = value;
        run.u.mmio.size = size;
        run.u.mmio.write = 1;
        REQUIRE(machine.handle_exit(run).kind == ExitAction::Kind::resume);
    }
    std::uint64_t load(std::uint64_t gpa, std::uint8_t size)
    {
        run = {};
        run.exit_reason = BOXY_VM_EXIT_MMIO;
        run.u.mmio.gpa = gpa;
        run.u.mmio.data = 0x1234;
        run.u.mmio.size = size;
        REQUIRE(machine.handle_exit(run).kind == ExitAction::Kind::resume);
        return run.u.mmio.data;
    }
    void route(std::uint32_t pin, std::uint64_t entry)
    {
        store(kIoApicAddress, 4, 0x10 + 2 * pin);
        store(kIoApicAddress + 0x10, 4, entry & 0xFFFF'FFFF);
        store(kIoApicAddress, 4, 0x10 + 2 * pin + 1);
        store(kIoApicAddress + 0x10, 4, entry >> 32);
    }
};

}  // namespace

TEST_CASE("machine: UART output reaches the console", "[machine]")
{
    Board b;
    for (const char c : std::string{"early"}) {
        CHECK(b.out(kCom1Port, 1, static_cast<std::uint8_t>(c)).kind == ExitAction::Kind::resume);
    }
    CHECK(b.console.take() == "early");
    CHECK((b.in(kCom1Port + 5, 1) & 0x60) == 0x60);
}

TEST_CASE("machine: unknown ports and MMIO read all ones, writes ignored", "[machine]")
{
    Board b;
    CHECK(b.in(0x80, 1) == 0xFF);
    CHECK(b.in(0xCF8, 4) == 0xFFFF'FFFF);
    CHECK(b.out(0xCF8, 4, 0x8000'0000).kind == ExitAction::Kind::resume);
    // Beyond RAM: what the e2e "evil" guest reads with devmem.
    CHECK(b.load(0x1'0000'0000, 4) == 0xFFFF'FFFF);
    CHECK(b.load(0x2000'0000, 8) == ~0ULL);
    b.store(0x2000'0000, 4, 0);
    CHECK(b.power.empty());
    CHECK(b.log.size() == 6);
    CHECK(b.machine.stats_summary().find("unknown port reads 2") != std::string::npos);
}

TEST_CASE("machine: the I/O APIC and the virtio-mmio window are mapped", "[machine]")
{
    Board b;
    b.store(kIoApicAddress, 4, 0x01);
    CHECK(b.load(kIoApicAddress + 0x10, 4) == 0x0017'0020);
    b.store(kIoApicAddress, 4, 0x00);
    CHECK(b.load(kIoApicAddress + 0x10, 4) == 2U << 24);        // the ID after 2 vCPUs
    CHECK(b.load(kVirtioMmioBase, 4) == 0x7472'6976);           // "virt"
    CHECK(b.load(kVirtioMmioBase + 8, 4) == 3);                 // console
    CHECK(b.load(kVirtioMmioBase + 0x1000, 4) == 0xFFFF'FFFF);  // slot 1: empty
}

TEST_CASE("machine: a device interrupt takes its I/O APIC pin to a vCPU", "[machine]")
{
    Board b;
    b.route(kCom1Gsi, 0x24 | (1ULL << 56));  // edge, vector 0x24, vCPU 1
    b.out(kCom1Port + 4, 1, 0x08);           // MCR: OUT2
    b.out(kCom1Port + 1, 1, 0x02);           // IER: THR empty
    CHECK(b.sink.take() == std::vector<Injection>{{1, 0x24, false}});
}

TEST_CASE("machine: EOI exits reach the I/O APIC", "[machine]")
{
    Board b;
    // The console slot's line: level triggered; nothing asserted yet.
    b.route(kFirstVirtioGsi, 0x41 | (1ULL << 15));
    b.run = {};
    b.run.exit_reason = BOXY_VM_EXIT_EOI;
    b.run.u.eoi.vector = 0x41;
    CHECK(b.machine.handle_exit(b.run).kind == ExitAction::Kind::resume);
    b.run.u.eoi.vector = 0x1'0041;  // not a vector: ignored
    CHECK(b.machine.handle_exit(b.run).kind == ExitAction::Kind::resume);
    CHECK(b.sink.take().empty());
}

TEST_CASE("machine: power off and reset", "[machine]")
{
    Board b;
    b.out(kSleepControlPort, 1, (kSleepTypeS5 << kSleepTypeShift) | kSleepEnable);
    b.out(kResetPort, 1, kResetValue);
    b.out(kKeyboardCommandPort, 1, 0xFE);
    CHECK(b.power ==
          std::vector<PowerEvent>{PowerEvent::power_off, PowerEvent::reset, PowerEvent::reset});
}

TEST_CASE("machine: shutdown and failure exits stop the VM", "[machine]")
{
    Board b;
    b.run = {};
    b.run.exit_reason = BOXY_VM_EXIT_SHUTDOWN;
    const ExitAction shutdown = b.machine.handle_exit(b.run);
    CHECK(shutdown.kind == ExitAction::Kind::shutdown);
    CHECK(shutdown.detail == "triple fault");

    b.run.exit_reason = BOXY_VM_EXIT_FAILED;
    b.run.u.failed = {BOXY_VM_FAIL_INVALID_STATE, 0, 0xFFFF'FFFF'FFFF'FFFF, 1, 2, 0xFFF0};
    const ExitAction failed = b.machine.handle_exit(b.run);
    CHECK(failed.kind == ExitAction::Kind::failed);
    CHECK(failed.detail.find("refused the vCPU's state") != std::string::npos);
    CHECK(failed.detail.find("rip 0xfff0") != std::string::npos);

    for (const std::uint32_t reason :
         {BOXY_VM_EXIT_NONE, BOXY_VM_EXIT_HLT, BOXY_VM_EXIT_INTERRUPTED, BOXY_VM_EXIT_KICK}) {
        b.run.exit_reason = reason;
        CHECK(b.machine.handle_exit(b.run).kind == ExitAction::Kind::resume);
    }
    b.run.exit_reason = 99;
    const ExitAction unknown = b.machine.handle_exit(b.run);
    CHECK(unknown.kind == ExitAction::Kind::failed);
    CHECK(unknown.detail == "unknown exit reason 99");
}

TEST_CASE("machine: garbage run pages never crash", "[machine][malformed]")
{
    Board b;
    std::uint64_t seed = 0x9E37'79B9'7F4A'7C15;
    const auto next = [&seed] {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
    };
    for (int i = 0; i < 20000; ++i) {
        for (auto& word : b.run.u.raw) {
            word = next();
        }
        b.run.exit_reason =
            static_cast<std::uint32_t>(next() % 3 == 0 ? BOXY_VM_EXIT_IO : BOXY_VM_EXIT_MMIO);
        // Mostly near the devices, so that the models see the garbage.
        if (b.run.exit_reason == BOXY_VM_EXIT_MMIO && next() % 2 == 0) {
            b.run.u.mmio.gpa =
                (next() % 2 == 0 ? kIoApicAddress : kVirtioMmioBase) + next() % 0x1100;
        }
        if (b.run.exit_reason == BOXY_VM_EXIT_IO && next() % 2 == 0) {
            b.run.u.io.port = static_cast<std::uint16_t>(0x3F0 + next() % 0x10);
        }
        (void)b.machine.handle_exit(b.run);
    }
    SUCCEED("no crash");
}

TEST_CASE("machine: register dump names every register", "[machine]")
{
    boxy_vcpu_regs regs{};
    regs.rip = 0xFFFF'FFFF'8100'0000;
    regs.gprs[15] = 0x1515;
    regs.cs.attrib = 0xA9B;
    const std::string dump = format_registers(regs);
    for (const char* name : {"rip", "rflags", "rax", "r15", "cr0", "cr3", "efer", "pat", "cs",
                             "ldtr", "gdtr", "idtr", "mp_state"}) {
        CHECK(dump.find(name) != std::string::npos);
    }
    CHECK(dump.find("ffffffff81000000") != std::string::npos);
    CHECK(dump.find("0000000000001515") != std::string::npos);
    CHECK(dump.find("attrib a9b") != std::string::npos);
}
