// SPDX-License-Identifier: MIT
//
// The VMX instructions as inline functions: VMXON, VMXOFF, VMCLEAR,
// VMPTRLD, VMREAD, VMWRITE, INVEPT, INVVPID (SDM Vol. 3C, chapter 31 "VMX
// Instruction Reference"). VMREAD/VMWRITE take the typed fields of
// vmcs_fields.hpp, so a value of the wrong width does not compile.
//
// They run only in VMX root operation at CPL 0 (the VMM); elsewhere they
// raise #UD. The header still compiles in the host world, where the unit
// tests check the pure status decoding and the width rules but never call
// an instruction.
#pragma once

#include "vmcs_fields.hpp"

#include <boxy/result.hpp>

#include <cstdint>

namespace boxy::vmx {

// How a VMX instruction failed (SDM Vol. 3C, 31.2 "Conventions"):
// VMfailInvalid (CF = 1) when there is no current VMCS to record an error
// in, VMfailValid (ZF = 1) when the VM-instruction error field of the
// current VMCS (kVmInstructionError) says why.
enum class VmxFailure : std::uint8_t { invalid, valid };

// VMsucceed clears CF and ZF; VMfailInvalid sets CF; VMfailValid sets ZF.
[[nodiscard]] constexpr Result<void, VmxFailure> vmx_status(bool carry, bool zero)
{
    if (carry) {
        return make_error(VmxFailure::invalid);
    }
    if (zero) {
        return make_error(VmxFailure::valid);
    }
    return {};
}

// INVEPT and INVVPID types (SDM Vol. 3C, 31.3 INVEPT, INVVPID; the types
// the CPU supports are in IA32_VMX_EPT_VPID_CAP, vmx_capabilities.hpp).
enum class InveptType : std::uint64_t { single_context = 1, all_context = 2 };
enum class InvvpidType : std::uint64_t {
    individual_address = 0,
    single_context = 1,
    all_context = 2,
    single_context_retaining_globals = 3,
};

// Each asm block below is the one instruction its function names. The
// flag outputs ("=@ccc" CF, "=@ccz" ZF) carry the VMsucceed/VMfail result;
// "memory" clobbers keep the compiler from caching VMCS-related memory
// (VMXON region, VMCS, EPT tables) across them.

// Enters VMX root operation with the 4 KiB VMXON region at `region_pa`
// (its first word holds the VMCS revision identifier; SDM Vol. 3C, 25.11.5).
[[nodiscard]] inline Result<void, VmxFailure> vmxon(std::uint64_t region_pa)
{
    bool carry = false;
    bool zero = false;
    asm volatile("vmxon %[pa]" : "=@ccc"(carry), "=@ccz"(zero) : [pa] "m"(region_pa) : "memory");
    return vmx_status(carry, zero);
}

inline void vmxoff()
{
    asm volatile("vmxoff" ::: "cc", "memory");
}

// Makes the VMCS at `vmcs_pa` clear (not current, launch state "clear"),
// writing its cached data back to memory.
[[nodiscard]] inline Result<void, VmxFailure> vmclear(std::uint64_t vmcs_pa)
{
    bool carry = false;
    bool zero = false;
    asm volatile("vmclear %[pa]" : "=@ccc"(carry), "=@ccz"(zero) : [pa] "m"(vmcs_pa) : "memory");
    return vmx_status(carry, zero);
}

// Makes the VMCS at `vmcs_pa` current: VMREAD, VMWRITE and VMLAUNCH act on it.
[[nodiscard]] inline Result<void, VmxFailure> vmptrld(std::uint64_t vmcs_pa)
{
    bool carry = false;
    bool zero = false;
    asm volatile("vmptrld %[pa]" : "=@ccc"(carry), "=@ccz"(zero) : [pa] "m"(vmcs_pa) : "memory");
    return vmx_status(carry, zero);
}

// AT&T operand order: VMREAD takes the encoding register first and the
// destination second (Intel: VMREAD r/m64, r64).
template <class T>
[[nodiscard]] inline Result<typename VmcsField<T>::Value, VmxFailure> vmread(VmcsField<T> field)
{
    using Value = typename VmcsField<T>::Value;
    std::uint64_t value = 0;
    bool carry = false;
    bool zero = false;
    asm volatile("vmread %[field], %[value]"
                 : [value] "=r"(value), "=@ccc"(carry), "=@ccz"(zero)
                 : [field] "r"(static_cast<std::uint64_t>(field.encoding)));
    auto status = vmx_status(carry, zero);
    if (!status) {
        return make_error(status.error());
    }
    // A field narrower than 64 bits reads zero-extended (SDM Vol. 3C, 31.3
    // VMREAD): the cast drops only zeros.
    return static_cast<Value>(value);
}

// AT&T operand order: VMWRITE takes the value first and the encoding
// register second (Intel: VMWRITE r64, r/m64).
template <class T, class V>
requires VmcsValueFor<V, T>
[[nodiscard]] inline Result<void, VmxFailure> vmwrite(VmcsField<T> field, V value)
{
    const auto raw_value = static_cast<std::uint64_t>(value);
    const auto encoding = static_cast<std::uint64_t>(field.encoding);
    bool carry = false;
    bool zero = false;
    asm volatile("vmwrite %[value], %[field]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [value] "r"(raw_value), [field] "r"(encoding)
                 : "memory");
    return vmx_status(carry, zero);
}

// The 128-bit INVEPT and INVVPID descriptors (SDM Vol. 3C, 31.3 INVEPT,
// "INVEPT Descriptor"; INVVPID, "INVVPID Descriptor").
struct InveptDescriptor {
    std::uint64_t ept_pointer;
    std::uint64_t reserved;
};
static_assert(sizeof(InveptDescriptor) == 16);

struct InvvpidDescriptor {
    std::uint64_t vpid;  // bits 15:0; bits 63:16 must be zero
    std::uint64_t linear_address;
};
static_assert(sizeof(InvvpidDescriptor) == 16);

// Invalidates cached EPT translations: those derived from `ept_pointer`
// (single context) or all of them (all context; ept_pointer ignored).
// AT&T order: descriptor first, type register second.
[[nodiscard]] inline Result<void, VmxFailure> invept(InveptType type, std::uint64_t ept_pointer)
{
    const InveptDescriptor descriptor{ept_pointer, 0};
    bool carry = false;
    bool zero = false;
    asm volatile("invept %[descriptor], %[type]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [descriptor] "m"(descriptor), [type] "r"(static_cast<std::uint64_t>(type))
                 : "memory");
    return vmx_status(carry, zero);
}

// Invalidates cached linear translations tagged with `vpid`
// (`linear_address` matters for individual_address only).
[[nodiscard]] inline Result<void, VmxFailure> invvpid(InvvpidType type, std::uint16_t vpid,
                                                      std::uint64_t linear_address = 0)
{
    const InvvpidDescriptor descriptor{vpid, linear_address};
    bool carry = false;
    bool zero = false;
    asm volatile("invvpid %[descriptor], %[type]"
                 : "=@ccc"(carry), "=@ccz"(zero)
                 : [descriptor] "m"(descriptor), [type] "r"(static_cast<std::uint64_t>(type))
                 : "memory");
    return vmx_status(carry, zero);
}

}  // namespace boxy::vmx
