// SPDX-License-Identifier: MIT
//
// Leaving the VMM (BOXY_CALL_STOP_CPU): the guest's state, which the backend
// collects from its control structure, loaded into the real CPU by
// boxy_resume_native (vmm/image/resume_native.S), which ends with IRETQ at
// the guest's RIP. The backend first restores what only it can (SVM: VMLOAD,
// GIF, EFER.SVME; VMX: VMXOFF, TR, the MSRs VM exits overwrite).
#pragma once

#include <cstddef>
#include <cstdint>

namespace boxy::vmm {

// LGDT/LIDT operand: a 16-bit limit then a 64-bit base (SDM Vol. 3, 2.4),
// padded so that the base is 8-byte aligned; the instructions take the
// address of `limit`.
struct PseudoDescriptor {
    std::uint16_t padding[3];
    std::uint16_t limit;
    std::uint64_t base;
};
static_assert(sizeof(PseudoDescriptor) == 16);

struct NativeState {
    std::uint64_t gprs[16];  // x86 encoding order, as GuestGprs
    std::uint64_t rip;
    std::uint64_t rsp;
    std::uint64_t rflags;
    std::uint64_t cr0;
    std::uint64_t cr3;  // must map the VMM's region at its physical address
    std::uint64_t cr4;
    std::uint64_t cs;
    std::uint64_t ss;
    std::uint64_t ds;
    std::uint64_t es;
    std::uint64_t fs;
    std::uint64_t gs;
    std::uint64_t fs_base;
    std::uint64_t gs_base;
    PseudoDescriptor gdtr;
    PseudoDescriptor idtr;
};

// vmm/image/resume_native.S hard-codes these offsets.
static_assert(offsetof(NativeState, rip) == 128);
static_assert(offsetof(NativeState, rsp) == 136);
static_assert(offsetof(NativeState, rflags) == 144);
static_assert(offsetof(NativeState, cr0) == 152);
static_assert(offsetof(NativeState, cr3) == 160);
static_assert(offsetof(NativeState, cr4) == 168);
static_assert(offsetof(NativeState, cs) == 176);
static_assert(offsetof(NativeState, ss) == 184);
static_assert(offsetof(NativeState, ds) == 192);
static_assert(offsetof(NativeState, es) == 200);
static_assert(offsetof(NativeState, fs) == 208);
static_assert(offsetof(NativeState, gs) == 216);
static_assert(offsetof(NativeState, fs_base) == 224);
static_assert(offsetof(NativeState, gs_base) == 232);
static_assert(offsetof(NativeState, gdtr) == 240);
static_assert(offsetof(NativeState, idtr) == 256);

}  // namespace boxy::vmm

extern "C" [[noreturn]] void boxy_resume_native(const boxy::vmm::NativeState* state);
