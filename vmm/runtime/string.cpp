// SPDX-License-Identifier: MIT
//
// The few C string functions that compilers and freestanding C++ headers
// emit calls to (std::char_traits, aggregate copies), for the worlds that
// have no libc: the VMM and boxy.efi. Compiled with
// -fno-tree-loop-distribute-patterns so the loops are not turned back into
// calls to themselves.
#include <cstddef>

extern "C" {

int memcmp(const void* a, const void* b, std::size_t n)
{
    const auto* x = static_cast<const unsigned char*>(a);
    const auto* y = static_cast<const unsigned char*>(b);
    for (std::size_t i = 0; i < n; ++i) {
        if (x[i] != y[i]) {
            return x[i] < y[i] ? -1 : 1;
        }
    }
    return 0;
}

void* memchr(const void* s, int c, std::size_t n)
{
    const auto* p = static_cast<const unsigned char*>(s);
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] == static_cast<unsigned char>(c)) {
            // memchr's C signature returns a non-const pointer into `s`.
            return const_cast<unsigned char*>(p + i);
        }
    }
    return nullptr;
}

std::size_t strlen(const char* s)
{
    std::size_t n = 0;
    while (s[n] != '\0') {
        ++n;
    }
    return n;
}

void* memmove(void* dst, const void* src, std::size_t n)
{
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    if (d < s) {
        for (std::size_t i = 0; i < n; ++i) {
            d[i] = s[i];
        }
    } else {
        for (std::size_t i = n; i > 0; --i) {
            d[i - 1] = s[i - 1];
        }
    }
    return dst;
}

}  // extern "C"
