// SPDX-License-Identifier: MIT
#include "vcpu_dump.hpp"

#include <fmt/format.h>
#include <thread>

namespace boxy::vm {

std::uint64_t VcpuDump::wanted(std::uint32_t index) const
{
    const std::lock_guard lock{mutex_};
    return index < answered_.size() && answered_[index] != request_ ? request_ : 0;
}

void VcpuDump::answer(std::uint32_t index, std::uint64_t request, std::string text)
{
    const std::lock_guard lock{mutex_};
    if (index < answered_.size() && request == request_) {
        answered_[index] = request;
        answers_[index] = std::move(text);
    }
}

std::vector<std::string> VcpuDump::collect(const std::function<void(std::uint32_t)>& kick,
                                           std::chrono::milliseconds timeout,
                                           std::chrono::milliseconds interval)
{
    std::uint64_t request = 0;
    {
        const std::lock_guard lock{mutex_};
        request = ++request_;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        std::vector<std::uint32_t> silent;
        {
            const std::lock_guard lock{mutex_};
            for (std::uint32_t index = 0; index < answered_.size(); ++index) {
                if (answered_[index] != request) {
                    silent.push_back(index);
                }
            }
        }
        if (silent.empty() || std::chrono::steady_clock::now() >= deadline) {
            break;
        }
        // Again and again: a kick that lands between two RUNs is lost.
        for (const std::uint32_t index : silent) {
            kick(index);
        }
        std::this_thread::sleep_for(interval);
    }
    const std::lock_guard lock{mutex_};
    std::vector<std::string> texts;
    for (std::uint32_t index = 0; index < answered_.size(); ++index) {
        texts.push_back(answered_[index] == request
                            ? answers_[index]
                            : fmt::format("vCPU {}: no answer within {} ms (its thread did not "
                                          "come out of RUN, or has ended)",
                                          index, timeout.count()));
    }
    return texts;
}

}  // namespace boxy::vm
