// SPDX-License-Identifier: MIT
//
// Compiled, never run (tests/unit/vmx/CMakeLists.txt): as it is, every
// access is correctly typed and it must compile; each BOXY_* macro adds one
// misuse that must not.
#include "vmcs.hpp"

#include <cstdint>

namespace {

using namespace boxy::vmx;

[[maybe_unused]] void correctly_typed()
{
    static_cast<void>(vmwrite(kGuestCsSelector, std::uint16_t{0x10}));
    static_cast<void>(vmwrite(kGuestCsLimit, std::uint16_t{0xFFFF}));  // widening is fine
    static_cast<void>(vmwrite(kGuestRip, std::uint64_t{0xFFF0}));
    static_cast<void>(vmwrite(kGuestEfer, std::uint64_t{0}));
    [[maybe_unused]] const std::uint16_t selector = vmread(kGuestCsSelector).value();
    [[maybe_unused]] const std::uint64_t rip = vmread(kGuestRip).value();
}

#ifdef BOXY_WRONG_FIELD_WIDTH
// The primary processor-based controls are a 32-bit field (0x4002).
[[maybe_unused]] constexpr Field16 kNotSixteenBits{0x4002};
#endif

#ifdef BOXY_WRONG_VALUE_WIDTH
[[maybe_unused]] void wrong_value()
{
    static_cast<void>(vmwrite(kGuestCsSelector, std::uint32_t{0x10}));
}
#endif

#ifdef BOXY_NATURAL_FOR_64
// IA32_EFER is a 64-bit field, RIP a natural-width one.
[[maybe_unused]] void natural_for_64()
{
    [[maybe_unused]] const FieldNatural field = kGuestEfer;
}
#endif

}  // namespace
