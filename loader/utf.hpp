// SPDX-License-Identifier: MIT
//
// UTF-8 <-> UCS-2 conversion for text that crosses the firmware boundary
// (UEFI strings are UCS-2: UEFI 2.10, section 2.3.1 "Data Types", CHAR16).
// Pure logic, shared by the EFI and host worlds.
#pragma once

#include <cstddef>
#include <string_view>

namespace boxy::loader {

// Writes the UTF-8 encoding of a Unicode scalar value; returns the byte count,
// or 0 for a surrogate or a value above U+10FFFF.
[[nodiscard]] std::size_t encode_utf8(char32_t cp, char (&out)[4]);

[[nodiscard]] bool is_valid_utf8(std::string_view text);

// Converts UTF-8 to NUL-terminated UCS-2. Returns the number of CHAR16 units
// written, excluding the NUL, or -1 if the text is not valid UTF-8, holds a
// character outside the Basic Multilingual Plane (UCS-2 cannot carry it), or
// does not fit in `capacity` units including the NUL.
[[nodiscard]] long utf8_to_ucs2(std::string_view text, char16_t* out, std::size_t capacity);

// Converts NUL-terminated or length-bounded UCS-2 to UTF-8 (lossy: unpaired
// surrogates become '?'). Returns the bytes written, excluding the NUL it
// always appends; stops early when `capacity` would be exceeded.
std::size_t ucs2_to_utf8(const char16_t* text, std::size_t units, char* out, std::size_t capacity);

}  // namespace boxy::loader
