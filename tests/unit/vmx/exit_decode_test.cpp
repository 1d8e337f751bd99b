// SPDX-License-Identifier: MIT
//
// Every VMX exit reason Boxy handles, from raw VMCS fields to the neutral
// ExitInfo (SDM Vol. 3D, Appendix C; Vol. 3C, 28.2.1), including the
// EPT-violation qualification in the AMD #NPF error-code layout.
#include "exit_decode.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using namespace boxy::vmx;
using boxy::vmm::ExitInfo;
using boxy::vmm::ExitReason;

namespace {

constexpr std::uint32_t kSsRing0 = 0xC093;  // flat data, DPL 0
constexpr std::uint32_t kSsRing3 = 0xC0F3;  // flat data, DPL 3

ExitInfo decode(std::uint32_t reason, std::uint64_t qualification = 0)
{
    VmxExitFields fields;
    fields.reason = reason;
    fields.qualification = qualification;
    fields.guest_ss_access_rights = kSsRing0;
    return decode_exit(fields);
}

}  // namespace

TEST_CASE("decode_exit: instruction exits the core handles")
{
    CHECK(decode(10).reason == ExitReason::cpuid);
    CHECK(decode(31).reason == ExitReason::msr_read);
    CHECK(decode(32).reason == ExitReason::msr_write);
    CHECK(decode(31).address == 0);  // the MSR index comes from RCX, later
    CHECK(decode(18).reason == ExitReason::hypercall);
    CHECK(decode(55).reason == ExitReason::xsetbv);
    CHECK(decode(10).vendor_code == 10);

    const ExitInfo hlt = decode(12);
    CHECK(hlt.reason == ExitReason::hlt);
    CHECK_FALSE(hlt.mwait);
    const ExitInfo mwait = decode(36);
    CHECK(mwait.reason == ExitReason::hlt);
    CHECK(mwait.mwait);
}

TEST_CASE("decode_exit: VMX instructions from the guest")
{
    for (const std::uint32_t reason :
         {19U, 20U, 21U, 22U, 23U, 24U, 25U, 26U, 27U, 50U, 53U, 59U}) {
        INFO("exit reason " << reason);
        CHECK(decode(reason).reason == ExitReason::virtualization_instruction);
    }
}

TEST_CASE("decode_exit: triple fault, INIT and SIPI")
{
    CHECK(decode(2).reason == ExitReason::shutdown);
    CHECK(decode(3).reason == ExitReason::init);
    const ExitInfo sipi = decode(4, 0x19A);  // only bits 7:0 are the vector
    CHECK(sipi.reason == ExitReason::sipi);
    CHECK(sipi.address == 0x9A);
}

TEST_CASE("decode_exit: exceptions, NMIs and external interrupts")
{
    VmxExitFields fields;
    fields.reason = 0;
    fields.interruption_info = 0x8000'0202;  // valid, NMI, vector 2
    CHECK(decode_exit(fields).reason == ExitReason::nmi);

    fields.interruption_info = 0x8000'0B0E;  // valid, error code, hardware exception, #PF
    fields.interruption_error_code = 0x6;
    const ExitInfo page_fault = decode_exit(fields);
    CHECK(page_fault.reason == ExitReason::exception);
    CHECK(page_fault.address == 14);
    CHECK(page_fault.error_code == 0x6);

    fields.interruption_info = 0x8000'0306;  // #UD: no error code
    fields.interruption_error_code = 0x55;   // stale, must be ignored
    const ExitInfo undefined_opcode = decode_exit(fields);
    CHECK(undefined_opcode.reason == ExitReason::exception);
    CHECK(undefined_opcode.address == 6);
    CHECK(undefined_opcode.error_code == 0);

    fields = {};
    fields.reason = 1;
    fields.interruption_info = 0x8000'0020;  // acknowledged on exit: vector 0x20
    const ExitInfo acknowledged = decode_exit(fields);
    CHECK(acknowledged.reason == ExitReason::interrupt);
    CHECK(acknowledged.address == 0x20);
    fields.interruption_info = 0;  // not acknowledged: no vector
    CHECK(decode_exit(fields).address == 0);
}

TEST_CASE("decode_exit: EPT violations in the AMD #NPF error-code layout")
{
    VmxExitFields fields;
    fields.reason = 48;
    fields.guest_physical_address = 0xFEE0'0030;
    fields.qualification = 0x181;  // data read, nothing mapped; linear address, final
    const ExitInfo read = decode_exit(fields);
    CHECK(read.reason == ExitReason::nested_page_fault);
    CHECK(read.address == 0xFEE0'0030);
    CHECK(read.error_code == kNpfFinalAddress);

    // Data write to a read-only page: present, write.
    CHECK(npf_error_code(0x18A) == (kNpfPresent | kNpfWrite | kNpfFinalAddress));
    // Instruction fetch from a readable, non-executable page: present, fetch.
    CHECK(npf_error_code(0x18C) == (kNpfPresent | kNpfFetch | kNpfFinalAddress));
    // Any of bits 5:3 means present.
    CHECK((npf_error_code(0x10) & kNpfPresent) != 0);
    CHECK((npf_error_code(0x20) & kNpfPresent) != 0);
    // A guest page-table access (bit 7 set, bit 8 clear).
    CHECK(npf_error_code(0x81) == kNpfPageTableWalk);
    // No linear address (bit 7 clear): bit 8 is undefined and ignored.
    CHECK(npf_error_code(0x101) == 0);
    CHECK(npf_error_code(0x2) == kNpfWrite);
}

TEST_CASE("decode_exit: EPT misconfiguration reads as a reserved-bit #NPF")
{
    VmxExitFields fields;
    fields.reason = 49;
    fields.guest_physical_address = 0x1234'5000;
    fields.qualification = 0x181;  // undefined for misconfigurations: ignored
    const ExitInfo misconfiguration = decode_exit(fields);
    CHECK(misconfiguration.reason == ExitReason::nested_page_fault);
    CHECK(misconfiguration.address == 0x1234'5000);
    CHECK(misconfiguration.error_code == (kNpfPresent | kNpfReserved));
}

TEST_CASE("decode_exit: I/O instructions")
{
    const ExitInfo out = decode(30, 0x03F8'0000);  // OUT DX, AL to 0x3F8
    CHECK(out.reason == ExitReason::io);
    CHECK(out.address == 0x3F8);
    CHECK(out.error_code == 0x03F8'0000);
    const IoAccess out_access = decode_io(out.error_code);
    CHECK(out_access.port == 0x3F8);
    CHECK(out_access.size == 1);
    CHECK_FALSE(out_access.in);
    CHECK_FALSE(out_access.immediate);

    const IoAccess in = decode_io((0x60U << 16) | (1U << 3) | (1U << 6));  // IN AL, 0x60
    CHECK(in.port == 0x60);
    CHECK(in.in);
    CHECK(in.immediate);
    CHECK_FALSE(in.string);

    const IoAccess rep_outsw = decode_io((0x1F0U << 16) | 1U | (1U << 4) | (1U << 5));
    CHECK(rep_outsw.size == 2);
    CHECK(rep_outsw.string);
    CHECK(rep_outsw.rep);
    CHECK(decode_io(3).size == 4);
}

TEST_CASE("decode_exit: control-register accesses")
{
    const ExitInfo mov_to_cr4 = decode(28, 0x104);  // MOV CR4, RCX
    CHECK(mov_to_cr4.reason == ExitReason::cr_access);
    CHECK(mov_to_cr4.address == 4);
    CHECK(mov_to_cr4.error_code == 0x104);
    const CrAccess to_cr4 = decode_cr_access(0x104);
    CHECK(to_cr4.control_register == 4);
    CHECK(to_cr4.type == CrAccessType::mov_to_cr);
    CHECK(to_cr4.gpr == 1);

    const CrAccess from_cr3 = decode_cr_access(0xF13);  // MOV R15, CR3
    CHECK(from_cr3.control_register == 3);
    CHECK(from_cr3.type == CrAccessType::mov_from_cr);
    CHECK(from_cr3.gpr == 15);

    CHECK(decode_cr_access(0x20).type == CrAccessType::clts);

    const CrAccess lmsw = decode_cr_access(0x1234'0070);  // LMSW from memory, 0x1234
    CHECK(lmsw.type == CrAccessType::lmsw);
    CHECK(lmsw.lmsw_from_memory);
    CHECK(lmsw.lmsw_source == 0x1234);
    CHECK(lmsw.control_register == 0);
}

TEST_CASE("decode_exit: task switches, INVD, GETSEC and unlisted reasons are other")
{
    for (const std::uint32_t reason : {9U, 11U, 13U, 7U, 37U, 52U, 60U, 0xFFFFU}) {
        INFO("exit reason " << reason);
        CHECK(decode(reason).reason == ExitReason::other);
    }
}

TEST_CASE("decode_exit: VM-entry failures are invalid_state with the full reason")
{
    for (const std::uint32_t reason : {0x8000'0021U, 0x8000'0022U, 0x8000'0029U}) {
        INFO("exit reason " << std::hex << reason);
        const ExitInfo failed = decode(reason);
        CHECK(failed.reason == ExitReason::invalid_state);
        CHECK(failed.vendor_code == reason);
    }
    // Bit 31 decides, whatever the basic reason says.
    CHECK(decode(0x8000'000AU).reason == ExitReason::invalid_state);
    CHECK(decode(33).reason == ExitReason::invalid_state);
}

TEST_CASE("decode_exit: CPL is SS.DPL")
{
    VmxExitFields fields;
    fields.reason = 10;
    fields.guest_ss_access_rights = kSsRing3;
    CHECK(decode_exit(fields).cpl == 3);
    fields.guest_ss_access_rights = kSsRing0;
    CHECK(decode_exit(fields).cpl == 0);
    // An unusable SS still has its DPL saved (SDM Vol. 3C, 28.3.2).
    fields.guest_ss_access_rights = 0x1'0000 | (1U << 5);
    CHECK(decode_exit(fields).cpl == 1);
    STATIC_REQUIRE(cpl_of(0x60) == 3);
}

TEST_CASE("exiting_instruction_length: only where the field is defined")
{
    VmxExitFields fields;
    fields.instruction_length = 2;
    fields.reason = 10;  // CPUID
    CHECK(exiting_instruction_length(fields) == 2);
    fields.reason = 30;  // I/O
    CHECK(exiting_instruction_length(fields) == 2);
    fields.reason = 48;  // EPT violation: undefined
    CHECK(exiting_instruction_length(fields) == 0);
    fields.reason = 49;
    CHECK(exiting_instruction_length(fields) == 0);
    fields.reason = 0x8000'0021;  // entry failure
    CHECK(exiting_instruction_length(fields) == 0);

    fields.reason = 0;
    fields.instruction_length = 1;
    fields.interruption_info = 0x8000'0603;  // INT3: software exception
    CHECK(exiting_instruction_length(fields) == 1);
    fields.interruption_info = 0x8000'0306;  // #UD: hardware exception
    CHECK(exiting_instruction_length(fields) == 0);

    fields.reason = 18;  // VMCALL with a nonsensical length
    fields.instruction_length = 0;
    CHECK(exiting_instruction_length(fields) == 0);
    fields.instruction_length = 16;
    CHECK(exiting_instruction_length(fields) == 0);
    fields.instruction_length = 3;
    CHECK(exiting_instruction_length(fields) == 3);
}
