// SPDX-License-Identifier: MIT
//
// A bounded, NUL-terminated string with inline storage, usable in every build
// world. Appends that would overflow are truncated and remembered, so callers
// that must not lose data can check truncated() and report it instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace boxy {

template <std::size_t Capacity>
class FixedString {
public:
    static_assert(Capacity > 0);

    constexpr FixedString() = default;
    constexpr explicit FixedString(std::string_view text) { append(text); }

    constexpr FixedString& append(std::string_view text)
    {
        for (char c : text) {
            push_back(c);
        }
        return *this;
    }

    constexpr FixedString& push_back(char c)
    {
        if (size_ + 1 >= Capacity) {
            truncated_ = true;
            return *this;
        }
        data_[size_++] = c;
        data_[size_] = '\0';
        return *this;
    }

    // Decimal rendering of an unsigned value (no printf in the freestanding
    // worlds).
    constexpr FixedString& append_uint(std::uint64_t value)
    {
        char digits[20]{};
        std::size_t n = 0;
        do {
            digits[n++] = static_cast<char>('0' + value % 10);
            value /= 10;
        } while (value != 0);
        while (n > 0) {
            push_back(digits[--n]);
        }
        return *this;
    }

    constexpr FixedString& append_hex(std::uint64_t value, unsigned min_digits = 1)
    {
        constexpr std::string_view kDigits = "0123456789abcdef";
        char digits[16]{};
        unsigned n = 0;
        do {
            digits[n++] = kDigits[value & 0xf];
            value >>= 4;
        } while (value != 0 || n < min_digits);
        while (n > 0) {
            push_back(digits[--n]);
        }
        return *this;
    }

    constexpr void clear()
    {
        size_ = 0;
        data_[0] = '\0';
        truncated_ = false;
    }

    [[nodiscard]] constexpr std::string_view view() const { return {data_, size_}; }
    [[nodiscard]] constexpr const char* c_str() const { return data_; }
    [[nodiscard]] constexpr std::size_t size() const { return size_; }
    [[nodiscard]] constexpr bool empty() const { return size_ == 0; }
    [[nodiscard]] constexpr bool truncated() const { return truncated_; }
    [[nodiscard]] static constexpr std::size_t capacity() { return Capacity - 1; }

    constexpr char& operator[](std::size_t i) { return data_[i]; }
    constexpr char operator[](std::size_t i) const { return data_[i]; }

private:
    char data_[Capacity]{};
    std::size_t size_{0};
    bool truncated_{false};
};

}  // namespace boxy
