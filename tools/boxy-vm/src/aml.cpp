// SPDX-License-Identifier: MIT
#include "aml.hpp"

namespace boxy::vm::aml {

std::uint8_t checksum_of(std::span<const std::uint8_t> bytes)
{
    std::uint8_t sum = 0;
    for (const std::uint8_t byte : bytes) {
        sum = static_cast<std::uint8_t>(sum + byte);
    }
    return static_cast<std::uint8_t>(0x100 - sum);
}

void append_le(Bytes& out, std::uint64_t value, std::size_t bytes)
{
    for (std::size_t i = 0; i < bytes; ++i) {
        out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
    }
}

// 20.2.4 "Package Length Encoding": the length counts itself. One byte holds
// 0-63 in bits 5-0; otherwise bits 7-6 give the number of following bytes
// (1-3), bits 3-0 the low nibble, and each following byte the next 8 bits.
void append_pkg_length(Bytes& out, std::size_t content_length)
{
    for (std::size_t extra = 0; extra < 4; ++extra) {
        const std::size_t total = content_length + 1 + extra;
        const std::size_t limit = extra == 0 ? 0x40 : std::size_t{1} << (4 + 8 * extra);
        if (total >= limit) {
            continue;
        }
        if (extra == 0) {
            out.push_back(static_cast<std::uint8_t>(total));
            return;
        }
        out.push_back(static_cast<std::uint8_t>((extra << 6) | (total & 0x0F)));
        for (std::size_t i = 0; i < extra; ++i) {
            out.push_back(static_cast<std::uint8_t>(total >> (4 + 8 * i)));
        }
        return;
    }
    // Unreachable: the DSDT is bounded by kMaxVirtioDevices, far below 2^28.
}

// 20.2.3 ComputationalData: the shortest integer encoding.
void append_integer(Bytes& out, std::uint64_t value)
{
    if (value <= 1) {
        out.push_back(value == 0 ? kZeroOp : kOneOp);
        return;
    }
    const std::size_t bytes = value <= 0xFF          ? 1
                              : value <= 0xFFFF      ? 2
                              : value <= 0xFFFF'FFFF ? 4
                                                     : 8;
    out.push_back(bytes == 1   ? kBytePrefix
                  : bytes == 2 ? kWordPrefix
                  : bytes == 4 ? kDWordPrefix
                               : kQWordPrefix);
    append_le(out, value, bytes);
}

void append_string(Bytes& out, std::string_view text)
{
    out.push_back(kStringPrefix);
    out.insert(out.end(), text.begin(), text.end());
    out.push_back(0);
}

void append_name(Bytes& out, std::string_view name)
{
    out.push_back(kNameOp);
    out.insert(out.end(), name.begin(), name.end());
}

void append_buffer(Bytes& out, std::span<const std::uint8_t> bytes)
{
    Bytes body;
    append_integer(body, bytes.size());  // BufferSize
    body.insert(body.end(), bytes.begin(), bytes.end());
    out.push_back(kBufferOp);
    append_pkg_length(out, body.size());
    out.insert(out.end(), body.begin(), body.end());
}

void append_package(Bytes& out, std::span<const std::uint64_t> integers)
{
    Bytes body;
    body.push_back(static_cast<std::uint8_t>(integers.size()));  // NumElements
    for (const std::uint64_t value : integers) {
        append_integer(body, value);
    }
    out.push_back(kPackageOp);
    append_pkg_length(out, body.size());
    out.insert(out.end(), body.begin(), body.end());
}

void append_device(Bytes& out, std::string_view name, std::span<const std::uint8_t> body)
{
    out.push_back(kExtOpPrefix);
    out.push_back(kDeviceOp);
    append_pkg_length(out, name.size() + body.size());
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), body.begin(), body.end());
}

void append_scope(Bytes& out, std::string_view name, std::span<const std::uint8_t> body)
{
    out.push_back(kScopeOp);
    append_pkg_length(out, name.size() + body.size());
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), body.begin(), body.end());
}

void append_memory32_fixed(Bytes& out, std::uint32_t base, std::uint32_t length)
{
    // Tag 0x86, length 9, information (bit 0: read/write), base, range length.
    out.insert(out.end(), {0x86, 0x09, 0x00, 0x01});
    append_le(out, base, 4);
    append_le(out, length, 4);
}

void append_io_port(Bytes& out, std::uint16_t port, std::uint8_t length)
{
    // Small item 0x08 of length 7 (0x47); information bit 0: 16-bit decode;
    // minimum and maximum base, alignment, length.
    out.insert(out.end(), {0x47, 0x01});
    append_le(out, port, 2);
    append_le(out, port, 2);
    out.push_back(0x01);
    out.push_back(length);
}

void append_interrupt(Bytes& out, std::uint32_t gsi, Trigger trigger)
{
    // Tag 0x89, length 6, flags (bit 0 consumer = 1; bit 1 mode: 1 edge,
    // 0 level; bit 2 polarity: 0 active high; bit 3 sharing: 0 exclusive),
    // table length 1, the GSI.
    const std::uint8_t flags = trigger == Trigger::edge ? 0x03 : 0x01;
    out.insert(out.end(), {0x89, 0x06, 0x00, flags, 0x01});
    append_le(out, gsi, 4);
}

void append_end_tag(Bytes& out)
{
    // Small item 0x0F of length 1 (0x79), then the checksum.
    out.push_back(0x79);
    out.push_back(checksum_of(out));
}

}  // namespace boxy::vm::aml
