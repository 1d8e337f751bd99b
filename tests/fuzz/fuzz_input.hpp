// SPDX-License-Identifier: MIT
//
// Helpers for libFuzzer harnesses (cmake/Fuzz.cmake puts this directory on
// their include path): an invariant check that crashes, so libFuzzer
// reports it, and a reader that turns the input into values, padding with
// zeros once the input runs out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace boxy::fuzz {

inline void require(bool invariant)
{
    if (!invariant) {
        __builtin_trap();
    }
}

class FuzzInput {
public:
    FuzzInput(const std::uint8_t* data, std::size_t size) : data_{data}, size_{size} {}

    [[nodiscard]] bool empty() const { return offset_ >= size_; }

    template <class T>
    [[nodiscard]] T next()
    {
        T value{};
        const std::size_t n = size_ - offset_ < sizeof value ? size_ - offset_ : sizeof value;
        std::memcpy(&value, data_ + offset_, n);
        offset_ += n;
        return value;
    }

    [[nodiscard]] std::uint64_t u64() { return next<std::uint64_t>(); }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t offset_{0};
};

}  // namespace boxy::fuzz
