// SPDX-License-Identifier: MIT
#include "bzimage.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace boxy::vm {
namespace {

constexpr std::array<std::uint8_t, 4> kElfMagic{0x7F, 'E', 'L', 'F'};
constexpr std::size_t kParagraph = 16;  // syssize unit

// Smallest file that holds the magic and version (boot.rst: "header" at
// 0x202, "version" at 0x206).
constexpr std::size_t kVersionEnd = 0x208;
// A 2.12+ header reaches at least to the end of init_size (0x260 + 4).
constexpr std::size_t kMinHeaderEnd = 0x264;
// The jump instruction at 0x200 is a short jump whose displacement (the byte
// at 0x201) skips the header: 0x202 + that byte is the header's end
// ("64-bit Boot Protocol").
constexpr std::size_t kJumpDisplacement = 0x201;
constexpr std::size_t kJumpTarget = 0x202;

bool is_power_of_two(std::uint64_t value)
{
    return value != 0 && (value & (value - 1)) == 0;
}

}  // namespace

std::string_view to_string(BzImageError error)
{
    switch (error) {
        case BzImageError::too_short: return "file too short to be a bzImage";
        case BzImageError::elf_image:
            return "an ELF file (vmlinux?), not a bzImage: use the compressed kernel "
                   "(/boot/vmlinuz-*)";
        case BzImageError::not_bzimage:
            return "not a Linux bzImage (no \"HdrS\" setup header magic)";
        case BzImageError::protocol_too_old:
            return "kernel boot protocol older than 2.12 (Linux 3.8): no 64-bit entry point";
        case BzImageError::header_truncated: return "bzImage setup header shorter than 2.12 needs";
        case BzImageError::not_loaded_high:
            return "a zImage (LOADED_HIGH clear), not a bzImage; rebuild with 'make bzImage'";
        case BzImageError::no_64bit_entry:
            return "kernel has no 64-bit entry point (XLF_KERNEL_64 clear): a 32-bit kernel?";
        case BzImageError::bad_kernel_alignment:
            return "relocatable kernel with a kernel_alignment that is not a power of two";
        case BzImageError::bad_init_size: return "bzImage init_size is smaller than the kernel";
        case BzImageError::truncated:
            return "bzImage truncated: the file ends before its setup header says";
    }
    return "unknown bzImage error";
}

Result<BzImage, BzImageError> parse_bzimage(ByteView file)
{
    if (file.size() >= kElfMagic.size() &&
        std::memcmp(file.data(), kElfMagic.data(), kElfMagic.size()) == 0) {
        return make_error(BzImageError::elf_image);
    }
    if (file.size() < kVersionEnd) {
        return make_error(BzImageError::too_short);
    }

    // Copy what the file has of the header; the rest stays zero until the
    // version says which fields exist.
    BzImage image{};
    const std::size_t available = std::min(sizeof(SetupHeader), file.size() - kSetupHeaderOffset);
    std::memcpy(&image.header, file.data() + kSetupHeaderOffset, available);
    const SetupHeader& header = image.header;

    if (header.header != kHeaderMagic || header.boot_flag != kBootFlag) {
        return make_error(BzImageError::not_bzimage);
    }
    image.version = header.version;
    if (image.version < kMinProtocolVersion) {
        return make_error(BzImageError::protocol_too_old);
    }

    // The header's own extent: boot loaders copy exactly this much into the
    // zero page, so a newer kernel's fields come along unread.
    const std::size_t header_end = kJumpTarget + file[kJumpDisplacement];
    if (header_end < kMinHeaderEnd) {
        return make_error(BzImageError::header_truncated);
    }
    if (file.size() < header_end) {
        return make_error(BzImageError::truncated);
    }
    image.header_bytes = file.subspan(kSetupHeaderOffset, header_end - kSetupHeaderOffset);

    // A bzImage loads its protected-mode part at 1 MiB or above ("Details of
    // Header Fields", loadflags bit 0); the 64-bit entry needs 2.12's
    // xloadflags XLF_KERNEL_64.
    if ((header.loadflags & kLoadedHigh) == 0) {
        return make_error(BzImageError::not_loaded_high);
    }
    if ((header.xloadflags & kXlfKernel64) == 0) {
        return make_error(BzImageError::no_64bit_entry);
    }
    if (header.relocatable_kernel != 0 && !is_power_of_two(header.kernel_alignment)) {
        return make_error(BzImageError::bad_kernel_alignment);
    }

    // The protected-mode kernel starts after the boot sector and the setup
    // sectors ("Loading The Rest of The Kernel"); syssize counts it in
    // 16-byte paragraphs (32 bits wide since 2.04).
    const std::size_t setup_sects =
        header.setup_sects == 0 ? kDefaultSetupSects : header.setup_sects;
    const std::size_t kernel_offset = (setup_sects + 1) * kSectorSize;
    const std::uint64_t kernel_size = std::uint64_t{header.syssize} * kParagraph;
    if (kernel_size == 0 || file.size() < kernel_offset ||
        file.size() - kernel_offset < kernel_size) {
        return make_error(BzImageError::truncated);
    }
    if (header.init_size < kernel_size) {
        return make_error(BzImageError::bad_init_size);
    }
    // Everything after the setup is loaded, as other loaders do: signed
    // kernels carry their signature past syssize, which does no harm.
    image.kernel = file.subspan(kernel_offset);
    return image;
}

}  // namespace boxy::vm
