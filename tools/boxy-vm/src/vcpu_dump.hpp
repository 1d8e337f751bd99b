// SPDX-License-Identifier: MIT
//
// `boxyctl registers NAME`: every vCPU's registers and exit counts, for a
// guest that seems stuck. The control thread asks (request), kicks the
// vCPU threads out of RUN, and waits a bounded time (collect); each vCPU
// thread answers between two RUNs (wanted/answer), since only it may read
// its vCPU's state while the VMM could be running it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace boxy::vm {

class VcpuDump {
public:
    explicit VcpuDump(std::uint32_t vcpus) : answered_(vcpus, 0), answers_(vcpus) {}

    // vCPU thread: the request it has not answered yet (0: none).
    [[nodiscard]] std::uint64_t wanted(std::uint32_t index) const;
    void answer(std::uint32_t index, std::uint64_t request, std::string text);

    // Control thread: a new request; kick(index) is called every `interval`
    // for each vCPU that has not answered, until all have or `timeout`
    // passed. Returns one text per vCPU ("no answer ..." for the silent).
    [[nodiscard]] std::vector<std::string> collect(const std::function<void(std::uint32_t)>& kick,
                                                   std::chrono::milliseconds timeout,
                                                   std::chrono::milliseconds interval);

private:
    mutable std::mutex mutex_;
    std::uint64_t request_{0};
    std::vector<std::uint64_t> answered_;
    std::vector<std::string> answers_;
};

}  // namespace boxy::vm
