// SPDX-License-Identifier: MIT
#include "load_option.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

using namespace boxy::loader;

namespace {

using ByteVec = std::vector<std::uint8_t>;

void put16(ByteVec& b, std::uint16_t v)
{
    b.push_back(static_cast<std::uint8_t>(v));
    b.push_back(static_cast<std::uint8_t>(v >> 8));
}

void put_ucs2(ByteVec& b, std::u16string_view s, bool nul = true)
{
    for (char16_t c : s) {
        put16(b, c);
    }
    if (nul) {
        put16(b, 0);
    }
}

ByteVec file_node(std::u16string_view name)
{
    ByteVec node{0x04, 0x04};
    put16(node, static_cast<std::uint16_t>(4 + 2 * (name.size() + 1)));
    put_ucs2(node, name);
    return node;
}

ByteVec end_node()
{
    return {0x7F, 0xFF, 0x04, 0x00};
}

// A hard-drive media node (type 4, subtype 1), 42 bytes, content irrelevant.
ByteVec hd_node()
{
    ByteVec node{0x04, 0x01};
    put16(node, 42);
    node.resize(42, 0xAB);
    return node;
}

ByteVec device_path(std::initializer_list<ByteVec> nodes)
{
    ByteVec path;
    for (const auto& n : nodes) {
        path.insert(path.end(), n.begin(), n.end());
    }
    return path;
}

ByteVec load_option(std::uint32_t attributes, std::u16string_view description, const ByteVec& path,
                    std::u16string_view optional = {})
{
    ByteVec b;
    put16(b, static_cast<std::uint16_t>(attributes));
    put16(b, static_cast<std::uint16_t>(attributes >> 16));
    put16(b, static_cast<std::uint16_t>(path.size()));
    put_ucs2(b, description);
    b.insert(b.end(), path.begin(), path.end());
    put_ucs2(b, optional, false);
    return b;
}

}  // namespace

TEST_CASE("load option: a well-formed Boot#### entry")
{
    const ByteVec path =
        device_path({hd_node(), file_node(u"\\EFI\\debian\\shimx64.efi"), end_node()});
    const ByteVec bytes = load_option(LoadOption::kActive, u"debian", path, u"quiet");
    auto option = parse_load_option(bytes);
    REQUIRE(option.has_value());
    CHECK(option->active());
    CHECK(option->boots_automatically());
    CHECK(option->description.size() == 12);
    CHECK(option->file_path_list.size() == path.size());
    CHECK(option->optional_data.size() == 10);
    CHECK(file_path_of(option->file_path_list).view() == "\\EFI\\debian\\shimx64.efi");
}

TEST_CASE("load option: categories and inactive entries do not boot automatically")
{
    const ByteVec path = device_path({file_node(u"\\Shell.efi"), end_node()});
    auto app = parse_load_option(load_option(LoadOption::kActive | 0x100, u"Shell", path));
    REQUIRE(app.has_value());
    CHECK_FALSE(app->boots_automatically());
    auto inactive = parse_load_option(load_option(0, u"off", path));
    REQUIRE(inactive.has_value());
    CHECK_FALSE(inactive->boots_automatically());
}

TEST_CASE("load option: malformed entries are errors, never overreads")
{
    CHECK(parse_load_option(ByteVec{1, 0, 0, 0, 4}).error() == LoadOptionError::too_short);

    ByteVec unterminated;
    put16(unterminated, 1);
    put16(unterminated, 0);
    put16(unterminated, 4);
    put_ucs2(unterminated, u"abc", false);
    CHECK(parse_load_option(unterminated).error() == LoadOptionError::unterminated_description);

    ByteVec overrun = load_option(1, u"x", device_path({end_node()}));
    overrun[4] = 0xFF;  // FilePathListLength far past the end
    CHECK(parse_load_option(overrun).error() == LoadOptionError::file_path_list_overrun);

    ByteVec zero_node{0x04, 0x04, 0x00, 0x00};
    CHECK(parse_load_option(load_option(1, u"x", zero_node)).error() ==
          LoadOptionError::bad_file_path_list);
    CHECK(parse_load_option(load_option(1, u"x", hd_node())).error() ==
          LoadOptionError::bad_file_path_list);
}

TEST_CASE("device path: size and node validation")
{
    const ByteVec good = device_path({hd_node(), end_node()});
    CHECK(device_path_size(good).value() == good.size());

    // Trailing bytes after the end node are not part of the path.
    ByteVec trailing = good;
    trailing.push_back(0xCC);
    CHECK(device_path_size(trailing).value() == good.size());

    CHECK(device_path_size(hd_node()).error() == DevicePathError::no_end_node);
    ByteVec cut = good;
    cut.resize(10);
    CHECK(device_path_size(cut).error() == DevicePathError::truncated_node);
    const ByteVec short_node{0x01, 0x01, 0x02, 0x00, 0x7F, 0xFF, 0x04, 0x00};
    CHECK(device_path_size(short_node).error() == DevicePathError::bad_node_length);
    CHECK(device_path_size(ByteVec{}).error() == DevicePathError::no_end_node);
}

TEST_CASE("device path: file path nodes are joined, other nodes ignored")
{
    const ByteVec split = device_path({hd_node(), file_node(u"\\EFI"), file_node(u"BOOT"),
                                       file_node(u"\\BOOTX64.EFI"), end_node()});
    CHECK(file_path_of(split).view() == "\\EFI\\BOOT\\BOOTX64.EFI");
    CHECK(file_path_of(device_path({hd_node(), end_node()})).empty());
}

TEST_CASE("boot order: entries after the current one")
{
    const std::array<std::uint16_t, 4> order{3, 1, 7, 2};
    auto after = entries_after(order, true, 1);
    REQUIRE(after.size() == 2);
    CHECK(after[0] == 7);
    CHECK(after[1] == 2);
    CHECK(entries_after(order, true, 2).empty());
    CHECK(entries_after(order, true, 9).size() == 4);  // BootNext or shell
    CHECK(entries_after(order, false, 0).size() == 4);
}
