// SPDX-License-Identifier: MIT
//
// bzImage parsing for the per-VM process: the real-mode setup header that a
// boot loader reads, checks and copies into the zero page. References are to
// the kernel's Documentation/x86/boot.rst ("THE LINUX/x86 BOOT PROTOCOL"):
// "The Real-Mode Kernel Header", "Details of Header Fields" and "64-bit Boot
// Protocol". The file comes from the user's config, so every length is
// checked before use: any bytes give a BzImage or an error, never a crash.
#pragma once

#include <boxy/result.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace boxy::vm {

using ByteView = std::span<const std::uint8_t>;

// Offset of the setup header in the image and in the zero page (boot.rst,
// "The Real-Mode Kernel Header": the header starts at 0x01F1).
inline constexpr std::size_t kSetupHeaderOffset = 0x1F1;

// The setup header as of boot protocol 2.15, byte for byte (packed: the
// fields are unaligned in the file). Field names follow boot.rst.
struct [[gnu::packed]] SetupHeader {
    std::uint8_t setup_sects;  // 0x1F1: 512-byte setup sectors; 0 means 4
    std::uint16_t root_flags;
    std::uint32_t syssize;  // 0x1F4: protected-mode code size in 16-byte paragraphs
    std::uint16_t ram_size;
    std::uint16_t vid_mode;
    std::uint16_t root_dev;
    std::uint16_t boot_flag;  // 0x1FE: 0xAA55
    std::uint16_t jump;       // 0x200: its high byte + 0x202 = end of this header
    std::uint32_t header;     // 0x202: "HdrS"
    std::uint16_t version;    // 0x206: protocol version, major << 8 | minor
    std::uint32_t realmode_swtch;
    std::uint16_t start_sys_seg;
    std::uint16_t kernel_version;
    std::uint8_t type_of_loader;  // 0x210: written by the loader
    std::uint8_t loadflags;       // 0x211: LOADED_HIGH etc.
    std::uint16_t setup_move_size;
    std::uint32_t code32_start;
    std::uint32_t ramdisk_image;  // 0x218: written by the loader
    std::uint32_t ramdisk_size;   // 0x21C: written by the loader
    std::uint32_t bootsect_kludge;
    std::uint16_t heap_end_ptr;
    std::uint8_t ext_loader_ver;
    std::uint8_t ext_loader_type;
    std::uint32_t cmd_line_ptr;     // 0x228: written by the loader
    std::uint32_t initrd_addr_max;  // 0x22C: highest address the initrd may occupy
    std::uint32_t kernel_alignment;
    std::uint8_t relocatable_kernel;
    std::uint8_t min_alignment;
    std::uint16_t xloadflags;    // 0x236: XLF_KERNEL_64 etc. (2.12)
    std::uint32_t cmdline_size;  // 0x238: command line maximum, without the NUL
    std::uint32_t hardware_subarch;
    std::uint64_t hardware_subarch_data;
    std::uint32_t payload_offset;
    std::uint32_t payload_length;
    std::uint64_t setup_data;
    std::uint64_t pref_address;  // 0x258: preferred load address (2.10)
    std::uint32_t init_size;     // 0x260: memory the kernel needs at its runtime start
    std::uint32_t handover_offset;
    std::uint32_t kernel_info_offset;  // 0x268 (2.15)
};

// Offsets from boot.rst's header table, relative to the image start.
#define BOXY_SETUP_AT(field, offset) \
    static_assert(kSetupHeaderOffset + offsetof(SetupHeader, field) == (offset), #field)
BOXY_SETUP_AT(setup_sects, 0x1F1);
BOXY_SETUP_AT(syssize, 0x1F4);
BOXY_SETUP_AT(boot_flag, 0x1FE);
BOXY_SETUP_AT(jump, 0x200);
BOXY_SETUP_AT(header, 0x202);
BOXY_SETUP_AT(version, 0x206);
BOXY_SETUP_AT(type_of_loader, 0x210);
BOXY_SETUP_AT(loadflags, 0x211);
BOXY_SETUP_AT(code32_start, 0x214);
BOXY_SETUP_AT(ramdisk_image, 0x218);
BOXY_SETUP_AT(ramdisk_size, 0x21C);
BOXY_SETUP_AT(heap_end_ptr, 0x224);
BOXY_SETUP_AT(cmd_line_ptr, 0x228);
BOXY_SETUP_AT(initrd_addr_max, 0x22C);
BOXY_SETUP_AT(kernel_alignment, 0x230);
BOXY_SETUP_AT(relocatable_kernel, 0x234);
BOXY_SETUP_AT(xloadflags, 0x236);
BOXY_SETUP_AT(cmdline_size, 0x238);
BOXY_SETUP_AT(hardware_subarch, 0x23C);
BOXY_SETUP_AT(setup_data, 0x250);
BOXY_SETUP_AT(pref_address, 0x258);
BOXY_SETUP_AT(init_size, 0x260);
BOXY_SETUP_AT(kernel_info_offset, 0x268);
#undef BOXY_SETUP_AT
static_assert(sizeof(SetupHeader) == 0x26C - kSetupHeaderOffset);

// Constants of the protocol (boot.rst, "Details of Header Fields").
inline constexpr std::uint32_t kHeaderMagic = 0x53726448;  // "HdrS", little endian
inline constexpr std::uint16_t kBootFlag = 0xAA55;
// 2.12 added xloadflags, whose XLF_KERNEL_64 announces the 64-bit entry.
inline constexpr std::uint16_t kMinProtocolVersion = 0x020C;
inline constexpr std::uint8_t kLoadedHigh = 1U << 0;    // loadflags: bzImage at 1 MiB+
inline constexpr std::uint16_t kXlfKernel64 = 1U << 0;  // xloadflags: entry at +0x200
inline constexpr std::uint8_t kDefaultSetupSects = 4;   // when setup_sects is 0
inline constexpr std::size_t kSectorSize = 512;
inline constexpr std::uint8_t kLoaderTypeUndefined = 0xFF;  // type_of_loader: no assigned ID
inline constexpr std::uint64_t kEntry64Offset = 0x200;      // "64-bit Boot Protocol"

enum class BzImageError : std::uint8_t {
    too_short,             // shorter than the setup header
    elf_image,             // an ELF file (an uncompressed vmlinux?), not a bzImage
    not_bzimage,           // no "HdrS" magic or boot flag 0xAA55
    protocol_too_old,      // boot protocol before 2.12: no 64-bit entry point to use
    header_truncated,      // the header says it is shorter than 2.12 requires
    not_loaded_high,       // a zImage (loaded at 0x10000), not a bzImage
    no_64bit_entry,        // xloadflags lacks XLF_KERNEL_64 (a 32-bit kernel)
    bad_kernel_alignment,  // relocatable, but kernel_alignment is not a power of two
    bad_init_size,         // init_size 0 or smaller than the kernel itself
    truncated,             // the file ends before setup_sects and syssize say
};

[[nodiscard]] std::string_view to_string(BzImageError error);

// A validated bzImage. The spans point into the parsed bytes, which must
// outlive it.
struct BzImage {
    SetupHeader header{};   // as in the file: the zero page starts from this
    ByteView header_bytes;  // the header as present: 0x1F1 to 0x202 + byte at 0x201
    ByteView kernel;        // the protected-mode kernel: everything after the setup
    std::uint16_t version{0};

    [[nodiscard]] bool relocatable() const { return header.relocatable_kernel != 0; }
    [[nodiscard]] std::uint64_t kernel_alignment() const { return header.kernel_alignment; }
    [[nodiscard]] std::uint64_t pref_address() const { return header.pref_address; }
    [[nodiscard]] std::uint64_t init_size() const { return header.init_size; }
    [[nodiscard]] std::uint64_t cmdline_size() const { return header.cmdline_size; }
    [[nodiscard]] std::uint64_t initrd_addr_max() const { return header.initrd_addr_max; }
};

[[nodiscard]] Result<BzImage, BzImageError> parse_bzimage(ByteView file);

}  // namespace boxy::vm
