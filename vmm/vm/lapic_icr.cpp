// SPDX-License-Identifier: MIT
#include "vm/lapic_icr.hpp"

namespace boxy::vmm {
namespace {

// ICR fields in x2APIC mode (11.6.1, 11.12.9): vector 7:0, delivery mode
// 10:8, destination mode 11, level 14, trigger mode 15, shorthand 19:18,
// destination 63:32.
constexpr std::uint64_t kIcrLogical = 1U << 11;
constexpr std::uint64_t kIcrLevelAssert = 1U << 14;
constexpr std::uint64_t kIcrLevelTrigger = 1U << 15;
constexpr unsigned kShorthandAllIncludingSelf = 2;
constexpr std::uint32_t kBroadcast = 0xFFFF'FFFF;  // 11.12.9
constexpr unsigned kFirstLegalVector = 16;         // 11.5.2

}  // namespace

// Decodes an ICR write (11.6.1, 11.12.9, 11.12.10) into what to send. The
// combinations Table 11-3 calls invalid send nothing: level-triggered with
// Level=0 (which includes INIT level de-assert), and the shorthands "self"
// and "all including self" with anything but fixed delivery. SMI and the
// reserved delivery modes are not forwarded either.
IcrDecode decode_icr(std::uint64_t icr, std::uint32_t source_id)
{
    if ((icr & kIcrLevelTrigger) != 0 && (icr & kIcrLevelAssert) == 0) {
        return {};
    }
    IpiRequest request;
    request.source_id = source_id;
    const auto vector = static_cast<std::uint8_t>(icr & 0xFF);
    switch ((icr >> 8) & 7) {
        case 0: request.delivery = IpiDelivery::fixed; break;
        case 1: request.delivery = IpiDelivery::lowest_priority; break;
        case 4: request.delivery = IpiDelivery::nmi; break;
        case 5: request.delivery = IpiDelivery::init; break;
        case 6: request.delivery = IpiDelivery::startup; break;
        default: return {};  // SMI, reserved
    }
    const bool carries_vector =
        request.delivery == IpiDelivery::fixed || request.delivery == IpiDelivery::lowest_priority;
    if (carries_vector || request.delivery == IpiDelivery::startup) {
        request.vector = vector;
    }
    const auto destination = static_cast<std::uint32_t>(icr >> 32);
    switch ((icr >> 18) & 3) {
        case 0:
            if (destination == kBroadcast) {
                request.destination = IpiDestination::all_including_self;
            } else {
                request.destination =
                    (icr & kIcrLogical) != 0 ? IpiDestination::logical : IpiDestination::physical;
                request.destination_id = destination;
            }
            break;
        case 1: request.destination = IpiDestination::self; break;
        case 2: request.destination = IpiDestination::all_including_self; break;
        default: request.destination = IpiDestination::all_excluding_self; break;
    }
    const bool shorthand_needs_fixed = request.destination == IpiDestination::self ||
                                       ((icr >> 18) & 3) == kShorthandAllIncludingSelf;
    if (shorthand_needs_fixed && request.delivery != IpiDelivery::fixed) {
        return {};
    }
    // A vector below 16 is not sent (11.5.3, "send illegal vector").
    if (carries_vector && vector < kFirstLegalVector) {
        return IcrDecode{.illegal_vector = true};
    }
    return IcrDecode{.ipi = request};
}

}  // namespace boxy::vmm
