// SPDX-License-Identifier: MIT
//
// Parsing of firmware-provided boot data: EFI_LOAD_OPTION (the Boot####
// variables, UEFI 2.10 section 3.1.3) and device paths (section 10.3). The
// bytes come from NVRAM that any OS can write, so every length is checked.
// Pure logic, shared by the EFI and host worlds.
#pragma once

#include "path.hpp"

#include <cstdint>
#include <span>

namespace boxy::loader {

using Bytes = std::span<const std::uint8_t>;

struct LoadOption {
    static constexpr std::uint32_t kActive = 0x1;           // LOAD_OPTION_ACTIVE
    static constexpr std::uint32_t kCategoryMask = 0x1F00;  // LOAD_OPTION_CATEGORY
    static constexpr std::uint32_t kCategoryBoot = 0x0000;  // LOAD_OPTION_CATEGORY_BOOT

    std::uint32_t attributes{0};
    Bytes description;     // UCS-2 code units, little endian, without the NUL
    Bytes file_path_list;  // device path(s), FilePathListLength bytes
    Bytes optional_data;   // load options passed to the image

    [[nodiscard]] bool active() const { return (attributes & kActive) != 0; }
    // A boot manager boots only active options of the boot category
    // automatically; LOAD_OPTION_CATEGORY_APP entries (setup menus, shells)
    // are for menus only (UEFI 2.10, section 3.1.3).
    [[nodiscard]] bool boots_automatically() const
    {
        return active() && (attributes & kCategoryMask) == kCategoryBoot;
    }
};

enum class DevicePathError {
    truncated_node,   // a node header or body runs past the buffer
    bad_node_length,  // a node shorter than its 4-byte header
    no_end_node,      // the buffer ends before an End of Entire Device Path node
};

enum class LoadOptionError {
    too_short,  // smaller than the fixed header
    unterminated_description,
    file_path_list_overrun,  // FilePathListLength past the end
    bad_file_path_list,      // the device path inside is malformed
};

[[nodiscard]] std::string_view to_string(DevicePathError e);
[[nodiscard]] std::string_view to_string(LoadOptionError e);

// Size in bytes of the device path at `bytes`, including its End node.
[[nodiscard]] Result<std::size_t, DevicePathError> device_path_size(Bytes bytes);

[[nodiscard]] Result<LoadOption, LoadOptionError> parse_load_option(Bytes bytes);

// Concatenates the Media File Path nodes (type 4, subtype 4) of a validated
// device path into one backslash path in UTF-8: "\EFI\BOOT\BOOTX64.EFI".
// Empty if the path has no file node (for example a whole-disk boot entry).
[[nodiscard]] EfiPath file_path_of(Bytes device_path);

// The BootOrder entries that come after the running one (BootCurrent). When
// BootCurrent is unknown or not in BootOrder (started from a shell or by
// BootNext), every entry is a candidate.
[[nodiscard]] std::span<const std::uint16_t> entries_after(std::span<const std::uint16_t> order,
                                                           bool has_current, std::uint16_t current);

}  // namespace boxy::loader
