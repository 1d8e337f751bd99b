// SPDX-License-Identifier: MIT
//
// Test images: a synthetic bzImage written byte by byte at the offsets
// boot.rst documents (not through the parser's own struct), and the real
// Debian kernel of the end-to-end tests when it has been built.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace boxy::vm::test {

struct SyntheticKernel {
    std::uint16_t version = 0x020F;
    std::uint8_t setup_sects = 4;
    std::uint32_t kernel_bytes = 0x2'0000;  // protected-mode part; a multiple of 16
    std::uint8_t loadflags = 0x01;          // LOADED_HIGH
    std::uint16_t xloadflags = 0x03;        // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    std::uint8_t relocatable = 1;
    std::uint32_t kernel_alignment = 0x20'0000;
    std::uint64_t pref_address = 0x100'0000;
    std::uint32_t init_size = 0x80'0000;
    std::uint32_t cmdline_size = 2047;
    std::uint32_t initrd_addr_max = 0x7FFF'FFFF;
    std::uint8_t header_end_jump = 0x6A;  // 0x202 + 0x6A = 0x26C, as Linux 6.1
    std::size_t trailer = 0;              // bytes after syssize (a signature)
};

inline void put(std::vector<std::uint8_t>& bytes, std::size_t at, std::uint64_t value,
                std::size_t width)
{
    for (std::size_t i = 0; i < width; ++i) {
        bytes[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
}

inline std::size_t setup_bytes(const SyntheticKernel& k)
{
    return (std::size_t{k.setup_sects == 0 ? 4U : k.setup_sects} + 1) * 512;
}

inline std::vector<std::uint8_t> make_bzimage(const SyntheticKernel& k)
{
    std::vector<std::uint8_t> bytes(setup_bytes(k) + k.kernel_bytes + k.trailer, 0);
    put(bytes, 0x1F1, k.setup_sects, 1);
    put(bytes, 0x1F4, k.kernel_bytes / 16, 4);  // syssize
    put(bytes, 0x1FE, 0xAA55, 2);               // boot_flag
    put(bytes, 0x200, 0xEB, 1);                 // jmp short
    put(bytes, 0x201, k.header_end_jump, 1);
    put(bytes, 0x202, 0x53726448, 4);  // "HdrS"
    put(bytes, 0x206, k.version, 2);
    put(bytes, 0x211, k.loadflags, 1);
    put(bytes, 0x22C, k.initrd_addr_max, 4);
    put(bytes, 0x230, k.kernel_alignment, 4);
    put(bytes, 0x234, k.relocatable, 1);
    put(bytes, 0x236, k.xloadflags, 2);
    put(bytes, 0x238, k.cmdline_size, 4);
    put(bytes, 0x258, k.pref_address, 8);
    put(bytes, 0x260, k.init_size, 4);
    for (std::size_t i = setup_bytes(k); i < bytes.size(); ++i) {
        bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);  // recognisable kernel bytes
    }
    return bytes;
}

// The Debian kernel the e2e tests fetch (tests/e2e/build-assets.sh), if any:
// $BOXY_TEST_KERNEL, else the build trees' e2e assets.
inline std::optional<std::vector<std::uint8_t>> debian_kernel()
{
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("BOXY_TEST_KERNEL")) {  // NOLINT(concurrency-mt-unsafe)
        candidates.emplace_back(env);
    }
    candidates.emplace_back(BOXY_VM_TEST_KERNEL_BUILD);
    candidates.emplace_back(BOXY_VM_TEST_KERNEL_SOURCE);
    for (const auto& path : candidates) {
        std::error_code error;
        if (!std::filesystem::is_regular_file(path, error)) {
            continue;
        }
        std::ifstream file(path, std::ios::binary);
        return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(file), {});
    }
    return std::nullopt;
}

}  // namespace boxy::vm::test
