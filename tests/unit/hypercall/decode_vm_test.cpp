// SPDX-License-Identifier: MIT
//
// Decoding of the service-VM calls (abi.h 0x10-0x4F): what the registers
// alone decide. Whether the VM or vCPU exists is the VMM's lookup, not
// decode's.
#include "hypercall.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace boxy::vmm::hypercall;

namespace {

constexpr std::uint64_t kRamBase = 0x100000;
constexpr std::uint64_t kRamEnd = 0x200000;

struct Ram {
    bool operator()(std::uint64_t gpa, std::uint64_t length) const
    {
        return gpa >= kRamBase && gpa + length <= kRamEnd;
    }
};

CallerContext host_kernel()
{
    CallerContext ctx{0, true, 2};
    ctx.service_vms = true;
    return ctx;
}

HypercallRegisters regs(std::uint64_t number, std::uint64_t rdi = 0, std::uint64_t rsi = 0,
                        std::uint64_t rdx = 0, std::uint64_t r10 = 0)
{
    return {number, rdi, rsi, rdx, r10, 0, 0};
}

boxy::Result<DecodedCall, Status> run(const HypercallRegisters& r,
                                      CallerContext ctx = host_kernel())
{
    Ram ram;
    return decode(r, ctx, memory_checker_for(ram));
}

Status error_of(const HypercallRegisters& r, CallerContext ctx = host_kernel())
{
    auto decoded = run(r, ctx);
    REQUIRE_FALSE(decoded.has_value());
    return decoded.error();
}

}  // namespace

TEST_CASE("service-VM calls: only the host kernel, only when the backend has them")
{
    CallerContext user = host_kernel();
    user.cpl = 3;
    CHECK(error_of(regs(BOXY_CALL_VM_CREATE, 0x100000, 1), user) == Status::denied);
    CallerContext guest = host_kernel();
    guest.is_host_vm = false;
    CHECK(error_of(regs(BOXY_CALL_VCPU_RUN, 1, 0), guest) == Status::denied);
    CallerContext vmx = host_kernel();
    vmx.service_vms = false;
    CHECK(error_of(regs(BOXY_CALL_VM_CREATE, 0x100000, 1), vmx) == Status::unsupported);
    CHECK(error_of(regs(0x12)) == Status::unknown_call);
    CHECK(error_of(regs(0x4F)) == Status::unknown_call);
}

TEST_CASE("VM_CREATE: size and vCPU count bounded")
{
    auto ok = run(regs(BOXY_CALL_VM_CREATE, 64 << 20, 2));
    REQUIRE(ok.has_value());
    CHECK(ok->call == Call::vm_create);
    CHECK(ok->args.vm_create.memory_size == (64 << 20));
    CHECK(ok->args.vm_create.vcpu_count == 2);
    CHECK(run(regs(BOXY_CALL_VM_CREATE, BOXY_VM_MAX_MEMORY, BOXY_MAX_VCPUS)).has_value());
    CHECK(error_of(regs(BOXY_CALL_VM_CREATE, 0, 1)) == Status::invalid_argument);
    CHECK(error_of(regs(BOXY_CALL_VM_CREATE, 4097, 1)) == Status::invalid_argument);
    CHECK(error_of(regs(BOXY_CALL_VM_CREATE, BOXY_VM_MAX_MEMORY + 4096, 1)) ==
          Status::invalid_argument);
    CHECK(error_of(regs(BOXY_CALL_VM_CREATE, 4096, 0)) == Status::invalid_argument);
    CHECK(error_of(regs(BOXY_CALL_VM_CREATE, 4096, BOXY_MAX_VCPUS + 1)) ==
          Status::invalid_argument);
    CHECK(error_of(regs(BOXY_CALL_VM_CREATE, 4096, 1, 1)) == Status::invalid_argument);
}

TEST_CASE("VM handles and vCPU indices are range-checked before any lookup")
{
    CHECK(error_of(regs(BOXY_CALL_VM_DESTROY, 0)) == Status::no_such_vm);
    CHECK(error_of(regs(BOXY_CALL_VM_DESTROY, BOXY_MAX_VMS + 1)) == Status::no_such_vm);
    CHECK(error_of(regs(BOXY_CALL_VM_DESTROY, ~0ULL)) == Status::no_such_vm);
    CHECK(run(regs(BOXY_CALL_VM_DESTROY, BOXY_MAX_VMS)).has_value());
    CHECK(error_of(regs(BOXY_CALL_VCPU_RUN, 1, BOXY_MAX_VCPUS)) == Status::no_such_vcpu);
    CHECK(error_of(regs(BOXY_CALL_VCPU_RUN, 1, 0, 1)) == Status::invalid_argument);
    auto ok = run(regs(BOXY_CALL_VCPU_RUN, 3, 1));
    REQUIRE(ok.has_value());
    CHECK(ok->args.vcpu.vm == 3);
    CHECK(ok->args.vcpu.vcpu == 1);
}

TEST_CASE("MEMORY_DONATE: aligned guest range, page list in the caller's RAM")
{
    auto ok = run(regs(BOXY_CALL_MEMORY_DONATE, 1, 0x200000, kRamBase, 512));
    REQUIRE(ok.has_value());
    CHECK(ok->args.donate.pages == 512);
    CHECK(ok->args.donate.list_gpa == kRamBase);
    // Guest address unaligned, beyond the VM space, or the range wraps it.
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, 0x1001, kRamBase, 1)) == Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, BOXY_VM_MAX_MEMORY, kRamBase, 1)) ==
          Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, BOXY_VM_MAX_MEMORY - 4096, kRamBase, 2)) ==
          Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, ~0xFFFULL, kRamBase, 2)) ==
          Status::bad_address);
    // Page counts.
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, 0, kRamBase, 0)) == Status::bad_length);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, 0, kRamBase, BOXY_DONATE_MAX_PAGES + 1)) ==
          Status::bad_length);
    // The list: misaligned, outside the caller's RAM, running past its end.
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, 0, kRamBase + 4, 1)) == Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, 0, 0x1000, 1)) == Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, 0, kRamEnd - 8, 2)) == Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_DONATE, 1, 0, 0, 1)) == Status::bad_address);
}

TEST_CASE("MEMORY_RECLAIM: same guest-range rules, no buffer")
{
    CHECK(run(regs(BOXY_CALL_MEMORY_RECLAIM, 1, 0, 512)).has_value());
    CHECK(error_of(regs(BOXY_CALL_MEMORY_RECLAIM, 1, 0, 0)) == Status::bad_length);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_RECLAIM, 1, 0x800, 1)) == Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_MEMORY_RECLAIM, 1, 0, 1, 1)) == Status::invalid_argument);
}

TEST_CASE("VCPU_CREATE and SET/GET_REGS: their buffers are the caller's RAM")
{
    CHECK(run(regs(BOXY_CALL_VCPU_CREATE, 1, 0, kRamBase)).has_value());
    CHECK(error_of(regs(BOXY_CALL_VCPU_CREATE, 1, 0, kRamBase + 8)) == Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_VCPU_CREATE, 1, 0, kRamEnd)) == Status::bad_address);
    CHECK(run(regs(BOXY_CALL_VCPU_SET_REGS, 1, 0, kRamBase + 8)).has_value());
    CHECK(run(regs(BOXY_CALL_VCPU_GET_REGS, 1, 0, kRamBase + 8)).has_value());
    CHECK(error_of(regs(BOXY_CALL_VCPU_SET_REGS, 1, 0, kRamBase + 4)) == Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_VCPU_GET_REGS, 1, 0, kRamEnd - 8)) == Status::bad_address);
    CHECK(error_of(regs(BOXY_CALL_VCPU_SET_REGS, 1, 0, kRamBase, 1)) == Status::invalid_argument);
}

TEST_CASE("INJECT_INTERRUPT: vectors 32-255, known flags only")
{
    auto ok = run(regs(BOXY_CALL_INJECT_INTERRUPT, 1, 1, 0x40, BOXY_INJECT_LEVEL));
    REQUIRE(ok.has_value());
    CHECK(ok->args.inject.vector == 0x40);
    CHECK(ok->args.inject.level);
    CHECK(run(regs(BOXY_CALL_INJECT_INTERRUPT, 1, 0, 255)).has_value());
    CHECK(error_of(regs(BOXY_CALL_INJECT_INTERRUPT, 1, 0, 31)) == Status::invalid_argument);
    CHECK(error_of(regs(BOXY_CALL_INJECT_INTERRUPT, 1, 0, 256)) == Status::invalid_argument);
    CHECK(error_of(regs(BOXY_CALL_INJECT_INTERRUPT, 1, 0, 0x40, 2)) == Status::invalid_argument);
    CHECK(error_of(regs(BOXY_CALL_INJECT_INTERRUPT, 1, 8, 0x40)) == Status::no_such_vcpu);
}

TEST_CASE("VERSION advertises service VMs only when the backend runs them")
{
    HypercallRegisters r{};
    invoke_version(2, r, false);
    CHECK((r.rsi & BOXY_FEATURE_SERVICE_VMS) == 0);
    invoke_version(2, r, true);
    CHECK((r.rsi & BOXY_FEATURE_SERVICE_VMS) != 0);
    CHECK((r.rsi & BOXY_FEATURE_GET_STATS) != 0);
}
