// SPDX-License-Identifier: MIT
//
// memset and memcpy for the VMM (the EFI world takes gnu-efi's). See
// string.cpp for why the loops stay loops.
#include <cstddef>

extern "C" {

void* memset(void* dst, int c, std::size_t n)
{
    auto* d = static_cast<unsigned char*>(dst);
    for (std::size_t i = 0; i < n; ++i) {
        d[i] = static_cast<unsigned char>(c);
    }
    return dst;
}

void* memcpy(void* dst, const void* src, std::size_t n)
{
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    for (std::size_t i = 0; i < n; ++i) {
        d[i] = s[i];
    }
    return dst;
}

}  // extern "C"
