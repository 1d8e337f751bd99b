// SPDX-License-Identifier: MIT
#include "exit_stats.hpp"

#include <cstddef>

namespace boxy::vmm {
namespace {

// The ABI numbers exit reasons as ExitReason does; a reason added to one
// list but not the other fails here.
constexpr bool abi_number_is(ExitReason reason, unsigned abi_number)
{
    return static_cast<unsigned>(reason) == abi_number;
}
static_assert(abi_number_is(ExitReason::cpuid, BOXY_EXIT_CPUID));
static_assert(abi_number_is(ExitReason::msr_read, BOXY_EXIT_MSR_READ));
static_assert(abi_number_is(ExitReason::msr_write, BOXY_EXIT_MSR_WRITE));
static_assert(abi_number_is(ExitReason::io, BOXY_EXIT_IO));
static_assert(abi_number_is(ExitReason::nested_page_fault, BOXY_EXIT_NESTED_PAGE_FAULT));
static_assert(abi_number_is(ExitReason::hypercall, BOXY_EXIT_HYPERCALL));
static_assert(abi_number_is(ExitReason::init, BOXY_EXIT_INIT));
static_assert(abi_number_is(ExitReason::sipi, BOXY_EXIT_SIPI));
static_assert(abi_number_is(ExitReason::xsetbv, BOXY_EXIT_XSETBV));
static_assert(abi_number_is(ExitReason::hlt, BOXY_EXIT_HLT));
static_assert(abi_number_is(ExitReason::shutdown, BOXY_EXIT_SHUTDOWN));
static_assert(abi_number_is(ExitReason::virtualization_instruction,
                            BOXY_EXIT_VIRTUALIZATION_INSTRUCTION));
static_assert(abi_number_is(ExitReason::cr_access, BOXY_EXIT_CR_ACCESS));
static_assert(abi_number_is(ExitReason::exception, BOXY_EXIT_EXCEPTION));
static_assert(abi_number_is(ExitReason::interrupt, BOXY_EXIT_INTERRUPT));
static_assert(abi_number_is(ExitReason::nmi, BOXY_EXIT_NMI));
static_assert(abi_number_is(ExitReason::invalid_state, BOXY_EXIT_INVALID_STATE));
static_assert(abi_number_is(ExitReason::other, BOXY_EXIT_OTHER));
static_assert(kExitReasonCount == BOXY_EXIT_REASON_COUNT,
              "ExitReason and BOXY_EXIT_* differ in length: update include/boxy/abi.h");

// Relaxed is enough: the counters publish no other data, and x86-64 makes
// aligned 8-byte loads and stores atomic (SDM Vol. 3A, "Guaranteed Atomic
// Operations"). The counters are naturally aligned members.
std::uint64_t load(const std::uint64_t& counter)
{
    return __atomic_load_n(&counter, __ATOMIC_RELAXED);
}

void increment(std::uint64_t& counter)
{
    // A load and a store, not a locked add: only the owner CPU writes.
    __atomic_store_n(&counter, load(counter) + 1, __ATOMIC_RELAXED);
}

std::size_t index_of(ExitReason reason)
{
    const auto index = static_cast<std::size_t>(reason);
    return index < kExitReasonCount ? index : static_cast<std::size_t>(ExitReason::other);
}

}  // namespace

void ExitStats::record(ExitReason reason)
{
    increment(by_reason_[index_of(reason)]);
    increment(total_);
}

std::uint64_t ExitStats::count(ExitReason reason) const
{
    const auto index = static_cast<std::size_t>(reason);
    return index < kExitReasonCount ? load(by_reason_[index]) : 0;
}

std::uint64_t ExitStats::total() const
{
    return load(total_);
}

boxy_cpu_stats ExitStats::snapshot() const
{
    boxy_cpu_stats out{};
    out.size = sizeof out;
    out.cpu_index = cpu_index_;
    out.apic_id = apic_id_;
    out.reason_count = BOXY_EXIT_REASON_COUNT;
    out.total_exits = total();
    for (std::size_t i = 0; i < kExitReasonCount; ++i) {
        out.exits_by_reason[i] = load(by_reason_[i]);
    }
    return out;
}

}  // namespace boxy::vmm
