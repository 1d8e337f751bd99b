// SPDX-License-Identifier: MIT
// A bzImage comes from the user's VM config: any bytes must give a value or
// an error, never a crash or an out-of-bounds access. What parses is also
// planned and loaded into a small guest, as the per-VM process would.
//
// Each input is tried twice: as a file of its own, and XORed over the setup
// header of a valid template image (the first two bytes choose the file's
// length), so that runs get past the magic and reach every check.
#include "boot_params.hpp"
#include "bzimage.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace {

constexpr std::size_t kSetupBytes = std::size_t{5} * 512;  // boot sector + 4 setup sectors
constexpr std::size_t kKernelBytes = 0x400;

void put(std::vector<std::uint8_t>& bytes, std::size_t at, std::uint64_t value, std::size_t width)
{
    for (std::size_t i = 0; i < width; ++i) {
        bytes[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
}

std::vector<std::uint8_t> make_template()
{
    std::vector<std::uint8_t> image(kSetupBytes + kKernelBytes, 0x90);
    put(image, 0x1F1, 4, 1);                  // setup_sects
    put(image, 0x1F4, kKernelBytes / 16, 4);  // syssize
    put(image, 0x1FE, 0xAA55, 2);             // boot_flag
    put(image, 0x200, 0x6AEB, 2);             // jmp short to 0x26C
    put(image, 0x202, 0x53726448, 4);         // "HdrS"
    put(image, 0x206, 0x020F, 2);             // version
    put(image, 0x211, 0x01, 1);               // loadflags: LOADED_HIGH
    put(image, 0x22C, 0x7FFF'FFFF, 4);        // initrd_addr_max
    put(image, 0x230, 0x20'0000, 4);          // kernel_alignment
    put(image, 0x234, 1, 1);                  // relocatable_kernel
    put(image, 0x236, 0x01, 2);               // xloadflags: XLF_KERNEL_64
    put(image, 0x238, 2047, 4);               // cmdline_size
    put(image, 0x258, 0x100'0000, 8);         // pref_address
    put(image, 0x260, 0x10'0000, 4);          // init_size
    return image;
}

void boot(boxy::vm::ByteView file)
{
    auto image = boxy::vm::parse_bzimage(file);
    if (!image) {
        (void)boxy::vm::to_string(image.error());
        return;
    }
    constexpr std::uint64_t kMemory = boxy::vm::kMinMemory;
    auto layout = boxy::vm::plan_layout(*image, {kMemory, boxy::vm::kPageSize, 4});
    if (!layout) {
        (void)boxy::vm::to_string(layout.error());
        return;
    }
    // One guest RAM buffer for all runs: 64 MiB per input would be slow.
    static std::vector<std::uint8_t> ram(kMemory);
    const std::vector<std::uint8_t> initrd(boxy::vm::kPageSize, 1);
    (void)boxy::vm::load_boot_images(ram, *image, *layout, initrd, "init", 0);
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): the libFuzzer entry point
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    boot({data, size});
    if (size < 2) {
        return 0;
    }
    static const std::vector<std::uint8_t> image_template = make_template();
    std::vector<std::uint8_t> file = image_template;
    const std::size_t length = (data[0] | (std::size_t{data[1]} << 8)) % (file.size() + 1);
    const std::size_t overlay = std::min(size - 2, file.size() - boxy::vm::kSetupHeaderOffset);
    for (std::size_t i = 0; i < overlay; ++i) {
        file[boxy::vm::kSetupHeaderOffset + i] ^= data[2 + i];
    }
    file.resize(length);
    boot(file);
    return 0;
}
