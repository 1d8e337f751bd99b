// SPDX-License-Identifier: MIT
#include "utf.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace boxy::loader;

TEST_CASE("utf: UTF-8 to UCS-2")
{
    char16_t out[16];
    CHECK(utf8_to_ucs2("ab\xC3\xA9\xE2\x82\xAC", out, 16) == 4);
    CHECK(std::u16string{out} == u"ab\u00e9\u20ac");
    CHECK(utf8_to_ucs2("", out, 16) == 0);
    CHECK(out[0] == u'\0');
    // Outside the BMP: UCS-2 cannot carry it.
    CHECK(utf8_to_ucs2("\xF0\x9F\x98\x80", out, 16) == -1);
    // Does not fit with its NUL.
    CHECK(utf8_to_ucs2("abcd", out, 4) == -1);
    CHECK(utf8_to_ucs2("abc", out, 4) == 3);
    CHECK(utf8_to_ucs2("a", out, 0) == -1);
}

TEST_CASE("utf: malformed UTF-8 is rejected")
{
    CHECK(is_valid_utf8("plain ascii"));
    CHECK(is_valid_utf8("\xC3\xA9"));
    CHECK_FALSE(is_valid_utf8("\xC3"));              // truncated
    CHECK_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xFF"));
}

TEST_CASE("utf: UCS-2 to UTF-8")
{
    char out[16];
    const char16_t text[] = u"x\u00e9\u20ac";
    CHECK(ucs2_to_utf8(text, 3, out, sizeof out) == 6);
    CHECK(std::string{out} == "x\xC3\xA9\xE2\x82\xAC");
    const char16_t surrogate[] = {0xD800, u'a', 0};
    CHECK(ucs2_to_utf8(surrogate, 2, out, sizeof out) == 2);
    CHECK(std::string{out} == "?a");
    // Stops before overflowing, always NUL-terminated.
    CHECK(ucs2_to_utf8(text, 3, out, 4) == 3);
    CHECK(std::string{out} == "x\xC3\xA9");
}
