// SPDX-License-Identifier: MIT
#include "path.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace boxy::loader;

namespace {

std::string resolved(std::string_view dir, std::string_view path)
{
    auto result = resolve_path(dir, path);
    if (!result) {
        return "error: " + std::string{result.error().message.view()};
    }
    return std::string{result->view()};
}

}  // namespace

TEST_CASE("path: directory of an image")
{
    CHECK(directory_of("\\EFI\\boxy\\boxy.efi").view() == "\\EFI\\boxy\\");
    CHECK(directory_of("\\boxy.efi").view() == "\\");
    CHECK(directory_of("boxy.efi").view() == "\\");
    CHECK(directory_of("").view() == "\\");
    CHECK(directory_of("/EFI/boxy/boxy.efi").view() == "\\EFI\\boxy\\");
}

TEST_CASE("path: resolve absolute and relative paths")
{
    CHECK(resolved("\\EFI\\boxy\\", "\\vmlinuz") == "\\vmlinuz");
    CHECK(resolved("\\EFI\\boxy\\", "/EFI/debian/grubx64.efi") == "\\EFI\\debian\\grubx64.efi");
    CHECK(resolved("\\EFI\\boxy\\", "grub.efi") == "\\EFI\\boxy\\grub.efi");
    CHECK(resolved("\\EFI\\boxy\\", "..\\debian\\.\\grub.efi") == "\\EFI\\debian\\grub.efi");
    CHECK(resolved("\\", "\\\\EFI//BOOT\\\\BOOTX64.EFI") == "\\EFI\\BOOT\\BOOTX64.EFI");
    CHECK(resolved("\\EFI\\boxy\\", "boxy.conf") == "\\EFI\\boxy\\boxy.conf");
}

TEST_CASE("path: bad paths are errors")
{
    CHECK(resolved("\\", "") == "error: empty path: ''");
    CHECK(resolved("\\", "\\EFI\\") ==
          "error: path names a directory, not an EFI image: '\\EFI\\'");
    CHECK(resolved("\\", "..\\x.efi") ==
          "error: path goes above the root of the volume (or is too deep): '..\\x.efi'");
    CHECK(resolved("\\", "\\.") == "error: path names the root directory: '\\.'");
    std::string deep;
    for (int i = 0; i < 65; ++i) {
        deep += "\\d";
    }
    CHECK(resolved("\\", deep).rfind("error: path goes above the root", 0) == 0);
    const std::string long_name(600, 'n');
    CHECK(resolved("\\", long_name) == "error: path is too long: '" + long_name + "'");
}

TEST_CASE("path: FAT names compare case-insensitively")
{
    CHECK(same_file("\\EFI\\BOOT\\BOOTX64.EFI", "\\efi\\boot\\bootx64.efi"));
    CHECK(same_file("\\EFI\\BOOT\\BOOTX64.EFI", "/EFI/BOOT/BOOTX64.EFI"));
    CHECK_FALSE(same_file("\\EFI\\BOOT\\BOOTX64.EFI", "\\EFI\\BOOT\\BOOTIA32.EFI"));
    CHECK_FALSE(same_file("\\a", "\\ab"));
}
