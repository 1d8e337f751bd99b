// SPDX-License-Identifier: MIT
//
// Per-CPU VM-exit counters, read by BOXY_CALL_GET_STATS.
//
// Concurrency: one writer, many readers. Only the CPU that owns an
// ExitStats calls record(); any CPU may call count(), total() or snapshot()
// at any time. Each counter is loaded and stored with a relaxed atomic
// access, so no single count is ever torn, and the writer needs no locked
// read-modify-write (it is the only one storing). Counters are read one
// after another while the owner keeps counting, so a snapshot is not one
// instant: total() may be ahead of or behind the sum of the reasons by the
// exits recorded during the read. Statistics tolerate that; nothing may
// depend on the counters being mutually consistent.
#pragma once

#include "exit_reason.hpp"

#include <boxy/abi.h>

#include <cstdint>

namespace boxy::vmm {

class ExitStats {
public:
    constexpr ExitStats(std::uint32_t cpu_index, std::uint32_t apic_id)
        : cpu_index_{cpu_index}, apic_id_{apic_id}
    {
    }

    // Owner CPU only. Out-of-range reasons (a backend bug) count as other.
    void record(ExitReason reason);

    [[nodiscard]] std::uint64_t count(ExitReason reason) const;
    [[nodiscard]] std::uint64_t total() const;
    [[nodiscard]] std::uint32_t cpu_index() const { return cpu_index_; }
    [[nodiscard]] std::uint32_t apic_id() const { return apic_id_; }

    // The ABI form of the counters (see the concurrency note above).
    [[nodiscard]] boxy_cpu_stats snapshot() const;

private:
    std::uint32_t cpu_index_;
    std::uint32_t apic_id_;
    std::uint64_t total_{0};
    std::uint64_t by_reason_[kExitReasonCount]{};
};

}  // namespace boxy::vmm
