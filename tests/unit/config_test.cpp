// SPDX-License-Identifier: MIT
#include "config.hpp"

#include <catch2/catch.hpp>

#include <string>

using boxy::loader::parse_config;

namespace {

std::string error_of(std::string_view text)
{
    auto result = parse_config(text);
    REQUIRE_FALSE(result.has_value());
    return std::to_string(result.error().line) + ": " + std::string{result.error().message.view()};
}

}  // namespace

TEST_CASE("config: next and options, literal and basic strings")
{
    auto config = parse_config(
        "# boot Debian\n"
        "next = '\\EFI\\debian\\vmlinuz.efi'   # literal string\n"
        "options = \"console=ttyS0 initrd=\\\\initrd.img\"\n");
    REQUIRE(config.has_value());
    CHECK(config->has_next);
    CHECK(config->next.view() == "\\EFI\\debian\\vmlinuz.efi");
    CHECK(config->has_options);
    CHECK(config->options.view() == "console=ttyS0 initrd=\\initrd.img");
}

TEST_CASE("config: empty file, comments, blank lines, CRLF and BOM")
{
    auto empty = parse_config("");
    REQUIRE(empty.has_value());
    CHECK_FALSE(empty->has_next);
    CHECK_FALSE(empty->has_options);

    auto windows = parse_config("\xEF\xBB\xBF# edited on Windows\r\n\r\n  next = \"/vmlinuz\"\r\n");
    REQUIRE(windows.has_value());
    CHECK(windows->next.view() == "/vmlinuz");
}

TEST_CASE("config: escapes in basic strings")
{
    auto config = parse_config("options = \"a\\\"b \\u00e9 \\U0001F600\"");
    REQUIRE(config.has_value());
    CHECK(config->options.view() == "a\"b \xC3\xA9 \xF0\x9F\x98\x80");
}

TEST_CASE("config: malformed lines name the line and the fix")
{
    CHECK(error_of("next = \"\\EFI\\debian\\grubx64.efi\"") ==
          "1: invalid escape '\\E' in a double-quoted string; write paths in single quotes "
          "(next = '\\EFI\\debian\\grubx64.efi') or double each backslash");
    CHECK(error_of("\n\nnext '\\vmlinuz'") == "3: expected '=' after key 'next'");
    CHECK(error_of("next = \\vmlinuz") == "1: value must be a quoted string, like key = \"value\"");
    CHECK(error_of("next = '\\vmlinuz") == "1: unterminated string (missing closing ')");
    CHECK(error_of("next = \"x") == "1: unterminated string (missing closing \")");
    CHECK(error_of("next = 'a' 'b'") == "1: unexpected text after the value of 'next'");
    CHECK(error_of("nxt = 'a'") == "1: unknown key 'nxt' (known keys: next, options, hypervisor)");
    CHECK(error_of("next = 'a'\nnext = 'b'") == "2: duplicate key 'next'");
    CHECK(error_of("options = 'a'\noptions = 'b'") == "2: duplicate key 'options'");
    CHECK(error_of("next = ''") == "1: 'next' is empty; give the path of an EFI image");
    CHECK(error_of("[boot]") == "1: tables ([section]) are not supported in boxy.conf");
    CHECK(error_of("boot.next = 'a'") == "1: dotted keys are not supported in boxy.conf");
    CHECK(error_of("\"next\" = 'a'") ==
          "1: quoted keys are not supported; write the key bare, like next");
    CHECK(error_of("= 'a'") == "1: expected a key, like: next = '\\EFI\\debian\\grubx64.efi'");
    CHECK(error_of("next =") == "1: missing value for key 'next'");
    CHECK(error_of("next = \"\"\"a\"\"\"") ==
          "1: multi-line strings are not supported in boxy.conf");
    CHECK(error_of("next = \"\\tools\\\\x.efi\"") ==
          "1: value of 'next' contains a control character (a \\t or \\n escape in a "
          "double-quoted path? use single quotes)");
    CHECK(error_of("options = \"\\u12\"") == "1: bad \\u escape: expected hex digits");
    CHECK(error_of("options = \"\\uD800\"") == "1: \\u escape is not a Unicode scalar value");
    CHECK(error_of(std::string_view{"next = 'a\0b'", 12}) ==
          "1: NUL byte in boxy.conf (is it a text file?)");
    CHECK(error_of("next = '\xC3\x28'") == "1: boxy.conf is not valid UTF-8");
}

TEST_CASE("config: limits")
{
    const std::string long_path(boxy::loader::kMaxPathBytes + 1, 'a');
    CHECK(error_of("next = '" + long_path + "'") == "1: value of 'next' is longer than 512 bytes");
    const std::string max_path(boxy::loader::kMaxPathBytes, 'a');
    CHECK(parse_config("next = '" + max_path + "'").has_value());

    const std::string long_options(boxy::loader::kMaxOptionsBytes + 100, 'o');
    CHECK(error_of("options = '" + long_options + "'") ==
          "1: value of 'options' is longer than 2048 bytes");

    const std::string huge(boxy::loader::kMaxConfigBytes + 1, '#');
    CHECK(error_of(huge) == "0: boxy.conf is larger than 64 KiB");
}

TEST_CASE("config: hypervisor on and off")
{
    auto defaults = parse_config("next = '\\vmlinuz'");
    REQUIRE(defaults.has_value());
    CHECK(defaults->hypervisor);
    auto off = parse_config("hypervisor = \"off\"");
    REQUIRE(off.has_value());
    CHECK_FALSE(off->hypervisor);
    auto on = parse_config("hypervisor = 'on'");
    REQUIRE(on.has_value());
    CHECK(on->hypervisor);
    CHECK(error_of("hypervisor = 'yes'") == "1: 'hypervisor' must be \"on\" or \"off\"");
    CHECK(error_of("hypervisor = 'on'\nhypervisor = 'off'") == "2: duplicate key 'hypervisor'");
}
