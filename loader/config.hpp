// SPDX-License-Identifier: MIT
//
// boxy.conf: the loader's configuration, read from the directory boxy.efi
// was started from. The format is a strict subset of TOML so that any TOML
// tool reads it the same way:
//
//     # comment
//     next    = '\EFI\debian\grubx64.efi'     # literal string: no escapes
//     options = "console=ttyS0 initrd=\\initrd.img"   # basic string
//
// Only top-level `key = string` pairs are accepted. Every malformed line is
// an error naming the line, so a typo never silently boots something else.
// This file is pure logic: it builds in the EFI world and in the host world,
// where it is unit-tested and fuzzed.
#pragma once

#include <boxy/fixed_string.hpp>
#include <boxy/result.hpp>

#include <cstddef>
#include <string_view>

namespace boxy::loader {

inline constexpr std::size_t kMaxConfigBytes = std::size_t{64} * 1024;
inline constexpr std::size_t kMaxPathBytes = 512;
inline constexpr std::size_t kMaxOptionsBytes = 2048;

struct Config {
    // Path of the next EFI image on boxy.efi's volume, as written (see
    // path.hpp for how it is resolved). Empty when absent.
    FixedString<kMaxPathBytes + 1> next;
    // Load options handed to the next image (UTF-8 here; UCS-2 on the wire).
    FixedString<kMaxOptionsBytes + 1> options;
    bool has_next{false};
    bool has_options{false};
    // `hypervisor = "off"` boots the OS without Boxy (troubleshooting, and
    // the baseline of the boot benchmark).
    bool hypervisor{true};
    bool has_hypervisor{false};
};

struct ConfigError {
    unsigned line{0};  // 1-based; 0 when the error concerns the whole file
    FixedString<256> message;
};

// Parses the whole text of boxy.conf.
[[nodiscard]] Result<Config, ConfigError> parse_config(std::string_view text);

}  // namespace boxy::loader
