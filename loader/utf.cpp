// SPDX-License-Identifier: MIT
#include "utf.hpp"

namespace boxy::loader {
namespace {

struct Decoded {
    char32_t cp;
    std::size_t length;  // 0 on malformed input
};

// Decodes one UTF-8 sequence at text[0], rejecting overlong forms,
// surrogates and values above U+10FFFF (RFC 3629, section 3).
Decoded decode_one(std::string_view text)
{
    const auto b0 = static_cast<unsigned char>(text[0]);
    if (b0 < 0x80) {
        return {b0, 1};
    }
    std::size_t length = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        length = 2;
        cp = b0 & 0x1F;
        min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        length = 3;
        cp = b0 & 0x0F;
        min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        length = 4;
        cp = b0 & 0x07;
        min = 0x10000;
    } else {
        return {0, 0};
    }
    if (text.size() < length) {
        return {0, 0};
    }
    for (std::size_t i = 1; i < length; ++i) {
        const auto b = static_cast<unsigned char>(text[i]);
        if ((b & 0xC0) != 0x80) {
            return {0, 0};
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return {0, 0};
    }
    return {cp, length};
}

}  // namespace

std::size_t encode_utf8(char32_t cp, char (&out)[4])
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    if (cp < 0x80) {
        out[0] = static_cast<char>(cp);
        return 1;
    }
    if (cp < 0x800) {
        out[0] = static_cast<char>(0xC0 | (cp >> 6));
        out[1] = static_cast<char>(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = static_cast<char>(0xE0 | (cp >> 12));
        out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out[2] = static_cast<char>(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = static_cast<char>(0xF0 | (cp >> 18));
    out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<char>(0x80 | (cp & 0x3F));
    return 4;
}

bool is_valid_utf8(std::string_view text)
{
    while (!text.empty()) {
        const Decoded d = decode_one(text);
        if (d.length == 0) {
            return false;
        }
        text.remove_prefix(d.length);
    }
    return true;
}

long utf8_to_ucs2(std::string_view text, char16_t* out, std::size_t capacity)
{
    std::size_t n = 0;
    while (!text.empty()) {
        const Decoded d = decode_one(text);
        if (d.length == 0 || d.cp > 0xFFFF || n + 1 >= capacity) {
            return -1;
        }
        out[n++] = static_cast<char16_t>(d.cp);
        text.remove_prefix(d.length);
    }
    if (capacity == 0) {
        return -1;
    }
    out[n] = u'\0';
    return static_cast<long>(n);
}

std::size_t ucs2_to_utf8(const char16_t* text, std::size_t units, char* out, std::size_t capacity)
{
    std::size_t n = 0;
    if (capacity == 0) {
        return 0;
    }
    for (std::size_t i = 0; i < units && text[i] != u'\0'; ++i) {
        char32_t cp = text[i];
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = '?';
        }
        char buf[4];
        const std::size_t len = encode_utf8(cp, buf);
        if (n + len + 1 > capacity) {
            break;
        }
        for (std::size_t j = 0; j < len; ++j) {
            out[n++] = buf[j];
        }
    }
    out[n] = '\0';
    return n;
}

}  // namespace boxy::loader
