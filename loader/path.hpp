// SPDX-License-Identifier: MIT
//
// Paths on the EFI system partition. UEFI file paths use backslashes and are
// case-insensitive on FAT (UEFI 2.10, section 13.3 "File System Format").
// Pure logic, shared by the EFI and host worlds.
#pragma once

#include "config.hpp"

#include <boxy/fixed_string.hpp>
#include <boxy/result.hpp>

#include <string_view>

namespace boxy::loader {

using EfiPath = FixedString<kMaxPathBytes + 1>;

struct PathError {
    FixedString<2 * kMaxPathBytes + 160> message;
};

// The directory holding `image_path`, with a trailing backslash:
// "\EFI\boxy\boxy.efi" -> "\EFI\boxy\", "boxy.efi" -> "\".
[[nodiscard]] EfiPath directory_of(std::string_view image_path);

// Resolves `path` (absolute, or relative to `base_dir`) to a normalised
// absolute path: '/' becomes '\', repeated separators collapse, "." and ".."
// are applied lexically. Errors: empty path, a path naming a directory
// (trailing separator), ".." above the root, or a result too long.
[[nodiscard]] Result<EfiPath, PathError> resolve_path(std::string_view base_dir,
                                                      std::string_view path);

// True if both normalised paths name the same file on FAT (ASCII
// case-insensitive).
[[nodiscard]] bool same_file(std::string_view a, std::string_view b);

// The UEFI removable-media default loader (UEFI 2.10, section 3.5.1.1).
inline constexpr std::string_view kDefaultLoaderPath = "\\EFI\\BOOT\\BOOTX64.EFI";
inline constexpr std::string_view kConfigFileName = "boxy.conf";

}  // namespace boxy::loader
