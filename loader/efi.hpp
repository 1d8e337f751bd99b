// SPDX-License-Identifier: MIT
//
// gnu-efi's C headers, wrapped for C++. Built with GNU_EFI_USE_MS_ABI so
// protocol members are called directly (no uefi_call_wrapper).
#pragma once

extern "C" {
#include <efi.h>
#include <efilib.h>
}

#include <cstddef>

static_assert(sizeof(CHAR16) == sizeof(char16_t), "build with -fshort-wchar");

// EFI_ERROR without gnu-efi's C cast: error statuses have the top bit set
// (UEFI 2.10, Appendix D "Status Codes").
[[nodiscard]] constexpr bool efi_failed(EFI_STATUS status)
{
    return (status >> 63) != 0;
}
