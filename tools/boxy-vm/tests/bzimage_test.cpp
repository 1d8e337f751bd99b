// SPDX-License-Identifier: MIT
#include "bzimage.hpp"

#include "boot_params.hpp"
#include "test_kernel.hpp"

#include <catch2/catch.hpp>

#include <cstring>

using boxy::vm::BzImageError;
using boxy::vm::parse_bzimage;
using boxy::vm::test::make_bzimage;
using boxy::vm::test::SyntheticKernel;

namespace {

BzImageError error_of(const std::vector<std::uint8_t>& bytes)
{
    auto image = parse_bzimage(bytes);
    REQUIRE_FALSE(image);
    return image.error();
}

}  // namespace

TEST_CASE("bzImage: a synthetic 2.15 header parses", "[bzimage]")
{
    const SyntheticKernel k;
    const auto bytes = make_bzimage(k);
    auto image = parse_bzimage(bytes);
    REQUIRE(image);
    CHECK(image->version == 0x020F);
    CHECK(image->relocatable());
    CHECK(image->kernel_alignment() == 0x20'0000);
    CHECK(image->pref_address() == 0x100'0000);
    CHECK(image->init_size() == 0x80'0000);
    CHECK(image->cmdline_size() == 2047);
    CHECK(image->initrd_addr_max() == 0x7FFF'FFFF);
    // The protected-mode kernel follows the boot sector and 4 setup sectors.
    CHECK(image->kernel.data() == bytes.data() + std::size_t{5} * 512);
    CHECK(image->kernel.size() == k.kernel_bytes);
    // The header runs from 0x1F1 to 0x202 + the byte at 0x201.
    CHECK(image->header_bytes.data() == bytes.data() + 0x1F1);
    CHECK(image->header_bytes.size() == 0x26C - 0x1F1);
}

TEST_CASE("bzImage: setup_sects 0 means 4, trailing bytes are loaded too", "[bzimage]")
{
    SyntheticKernel k;
    k.setup_sects = 0;
    k.trailer = 100;
    const auto bytes = make_bzimage(k);
    auto image = parse_bzimage(bytes);
    REQUIRE(image);
    CHECK(image->kernel.data() == bytes.data() + std::size_t{5} * 512);
    CHECK(image->kernel.size() == k.kernel_bytes + 100);

    k.setup_sects = 30;
    auto bigger = parse_bzimage(make_bzimage(k));
    REQUIRE(bigger);
    CHECK(bigger->kernel.size() == k.kernel_bytes + 100);
}

TEST_CASE("bzImage: files that are not bzImages are rejected", "[bzimage]")
{
    SECTION("empty and tiny files")
    {
        CHECK(error_of({}) == BzImageError::too_short);
        CHECK(error_of(std::vector<std::uint8_t>(0x207, 0)) == BzImageError::too_short);
    }
    SECTION("an ELF file (vmlinux)")
    {
        std::vector<std::uint8_t> elf(std::size_t{64} * 1024, 0);
        std::memcpy(elf.data(),
                    "\x7F"
                    "ELF\x02\x01\x01",
                    7);
        CHECK(error_of(elf) == BzImageError::elf_image);
    }
    SECTION("zeros and random bytes")
    {
        CHECK(error_of(std::vector<std::uint8_t>(std::size_t{64} * 1024, 0)) ==
              BzImageError::not_bzimage);
        std::vector<std::uint8_t> noise(std::size_t{64} * 1024);
        std::uint32_t x = 12345;
        for (auto& byte : noise) {
            x = x * 1103515245 + 12345;
            byte = static_cast<std::uint8_t>(x >> 16);
        }
        CHECK(error_of(noise) == BzImageError::not_bzimage);
    }
    SECTION("the magic without the boot flag")
    {
        auto bytes = make_bzimage({});
        bytes[0x1FE] = 0;
        CHECK(error_of(bytes) == BzImageError::not_bzimage);
    }
}

TEST_CASE("bzImage: unusable kernels are rejected with the reason", "[bzimage]")
{
    SyntheticKernel k;
    SECTION("protocol 2.11 has no 64-bit entry")
    {
        k.version = 0x020B;
        CHECK(error_of(make_bzimage(k)) == BzImageError::protocol_too_old);
    }
    SECTION("a 32-bit kernel")
    {
        k.xloadflags = 0x02;
        CHECK(error_of(make_bzimage(k)) == BzImageError::no_64bit_entry);
    }
    SECTION("a zImage")
    {
        k.loadflags = 0;
        CHECK(error_of(make_bzimage(k)) == BzImageError::not_loaded_high);
    }
    SECTION("a header that ends before init_size")
    {
        k.header_end_jump = 0x50;
        CHECK(error_of(make_bzimage(k)) == BzImageError::header_truncated);
    }
    SECTION("kernel_alignment not a power of two")
    {
        k.kernel_alignment = 0x30'0000;
        CHECK(error_of(make_bzimage(k)) == BzImageError::bad_kernel_alignment);
        k.kernel_alignment = 0;
        CHECK(error_of(make_bzimage(k)) == BzImageError::bad_kernel_alignment);
    }
    SECTION("init_size smaller than the kernel")
    {
        k.init_size = k.kernel_bytes - 16;
        CHECK(error_of(make_bzimage(k)) == BzImageError::bad_init_size);
    }
}

TEST_CASE("bzImage: every truncation is an error, none crashes", "[bzimage]")
{
    SyntheticKernel k;
    k.kernel_bytes = 0x1000;
    const auto bytes = make_bzimage(k);
    for (std::size_t length = 0; length < bytes.size(); ++length) {
        const std::vector<std::uint8_t> prefix(bytes.begin(),
                                               bytes.begin() + static_cast<std::ptrdiff_t>(length));
        auto image = parse_bzimage(prefix);
        REQUIRE_FALSE(image);
        if (length >= 0x26C) {
            REQUIRE(image.error() == BzImageError::truncated);
        }
    }
    CHECK(parse_bzimage(bytes));
}

TEST_CASE("bzImage: every error has a message", "[bzimage]")
{
    for (int e = 0; e <= static_cast<int>(BzImageError::truncated); ++e) {
        CHECK_FALSE(boxy::vm::to_string(static_cast<BzImageError>(e)).empty());
    }
}

TEST_CASE("bzImage: the Debian kernel of the e2e tests", "[bzimage][debian]")
{
    const auto file = boxy::vm::test::debian_kernel();
    if (!file) {
        WARN("no Debian kernel (build the e2e assets or set BOXY_TEST_KERNEL): skipped");
        return;
    }
    auto image = parse_bzimage(*file);
    REQUIRE(image);
    CHECK(image->version >= 0x020C);
    CHECK(image->relocatable());
    CHECK((image->header.xloadflags & boxy::vm::kXlfKernel64) != 0);
    CHECK(image->pref_address() >= boxy::vm::kHighMemoryStart);
    CHECK(image->init_size() > image->kernel.size());
    CHECK(image->cmdline_size() >= 255);
    const std::size_t setup = (std::size_t{image->header.setup_sects} + 1) * 512;
    CHECK(image->kernel.size() == file->size() - setup);

    // A stock kernel needs pref_address + init_size (about 80 MiB for 6.1)
    // before it reads the memory map: 64 MiB cannot boot it.
    const boxy::vm::BootRequest small{64 * boxy::vm::kMiB, 8 * boxy::vm::kMiB, 20};
    auto too_small = boxy::vm::plan_layout(*image, small);
    if (image->pref_address() + image->init_size() > 64 * boxy::vm::kMiB) {
        REQUIRE_FALSE(too_small);
        CHECK(too_small.error() == boxy::vm::BootError::kernel_does_not_fit);
    }

    constexpr std::string_view kCmdline = "console=hvc0 quiet";
    const boxy::vm::BootRequest request{256 * boxy::vm::kMiB, 32 * boxy::vm::kMiB, kCmdline.size()};
    auto layout = boxy::vm::plan_layout(*image, request);
    REQUIRE(layout);
    CHECK(layout->kernel_address == image->pref_address());
    CHECK(layout->entry_point == image->pref_address() + 0x200);
    CHECK(layout->initrd_address >= layout->kernel_runtime_end);
    CHECK(layout->initrd_address + layout->initrd_size <= request.memory_size);

    std::vector<std::uint8_t> ram(request.memory_size, 0);
    const std::vector<std::uint8_t> initrd(request.initrd_size, 0x5A);
    REQUIRE(
        boxy::vm::load_boot_images(ram, *image, *layout, initrd, kCmdline, boxy::vm::kAcpiAddress));
    const std::size_t zero_page = boxy::vm::kZeroPageAddress;
    CHECK(std::memcmp(ram.data() + zero_page + 0x202, "HdrS", 4) == 0);
    CHECK(ram[zero_page + 0x210] == 0xFF);
    CHECK(std::memcmp(ram.data() + layout->kernel_address, image->kernel.data(), 4096) == 0);
}
