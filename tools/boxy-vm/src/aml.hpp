// SPDX-License-Identifier: MIT
//
// The small subset of AML (ACPI 6.5, 20 "ACPI Machine Language (AML)
// Specification") and of resource descriptors (6.4 "Resource Data Types
// for ACPI") that the DSDT of a service VM needs. Each function appends
// the encoding of one term to `out`; all values are little endian.
//
//   DefScope   := ScopeOp PkgLength NameString TermList                20.2.5.1
//   DefDevice  := ExtOpPrefix DeviceOp PkgLength NameString TermList   20.2.5.2
//   DefName    := NameOp NameString DataRefObject                      20.2.5.1
//   DefBuffer  := BufferOp PkgLength BufferSize ByteList               20.2.5.4
//   DefPackage := PackageOp PkgLength NumElements PackageElementList   20.2.5.4
//   String     := StringPrefix AsciiCharList NullChar                  20.2.3
//   Integer    := ZeroOp | OneOp | BytePrefix ByteData | WordPrefix WordData
//                 | DWordPrefix DWordData | QWordPrefix QWordData      20.2.3
//   NameString := [RootChar] NameSeg; NameSeg := 4 chars [A-Z_][A-Z0-9_]{3}  20.2.2
//   PkgLength  (append_pkg_length)                                     20.2.4
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace boxy::vm::aml {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint8_t kZeroOp = 0x00;
inline constexpr std::uint8_t kOneOp = 0x01;
inline constexpr std::uint8_t kNameOp = 0x08;
inline constexpr std::uint8_t kBytePrefix = 0x0A;
inline constexpr std::uint8_t kWordPrefix = 0x0B;
inline constexpr std::uint8_t kDWordPrefix = 0x0C;
inline constexpr std::uint8_t kStringPrefix = 0x0D;
inline constexpr std::uint8_t kQWordPrefix = 0x0E;
inline constexpr std::uint8_t kScopeOp = 0x10;
inline constexpr std::uint8_t kBufferOp = 0x11;
inline constexpr std::uint8_t kPackageOp = 0x12;
inline constexpr std::uint8_t kExtOpPrefix = 0x5B;
inline constexpr std::uint8_t kDeviceOp = 0x82;  // after ExtOpPrefix
inline constexpr std::uint8_t kRootChar = 0x5C;  // '\'

// The byte that makes `bytes` sum to zero (mod 256): ACPI table and
// resource template checksums.
[[nodiscard]] std::uint8_t checksum_of(std::span<const std::uint8_t> bytes);

void append_le(Bytes& out, std::uint64_t value, std::size_t bytes);
void append_pkg_length(Bytes& out, std::size_t content_length);
void append_integer(Bytes& out, std::uint64_t value);
void append_string(Bytes& out, std::string_view text);
// NameOp and a NameSeg (or "\" NameSeg); the caller appends the data next.
void append_name(Bytes& out, std::string_view name);
void append_buffer(Bytes& out, std::span<const std::uint8_t> bytes);
// Package () { integer, ... }
void append_package(Bytes& out, std::span<const std::uint64_t> integers);
// Device (name) { body } and Scope (name) { body }.
void append_device(Bytes& out, std::string_view name, std::span<const std::uint8_t> body);
void append_scope(Bytes& out, std::string_view name, std::span<const std::uint8_t> body);

// EISAID ("PNP0303"): three letters compressed into 5 bits each, then four
// hex digits (6.1.5 "_HID (Hardware ID)"), as the DWord an AML integer holds.
[[nodiscard]] constexpr std::uint32_t eisa_id(std::string_view id)
{
    const auto letter = [&](std::size_t i) { return static_cast<std::uint32_t>(id[i] - 0x40); };
    const auto hex = [&](std::size_t i) {
        const char c = id[i];
        return static_cast<std::uint32_t>(c <= '9' ? c - '0' : c - 'A' + 10);
    };
    const std::uint32_t vendor = (letter(0) << 10) | (letter(1) << 5) | letter(2);
    const std::uint32_t product = (hex(3) << 12) | (hex(4) << 8) | (hex(5) << 4) | hex(6);
    // Stored big endian in the DWord: vendor bytes first, then product bytes.
    return ((vendor >> 8) & 0xFF) | ((vendor & 0xFF) << 8) | (((product >> 8) & 0xFF) << 16) |
           ((product & 0xFF) << 24);
}
static_assert(eisa_id("PNP0303") == 0x0303'D041);
static_assert(eisa_id("PNP0501") == 0x0105'D041);

// --- Resource descriptors (6.4) ---------------------------------------------

// 6.4.3.4 "32-Bit Fixed Memory Range Descriptor", read/write.
void append_memory32_fixed(Bytes& out, std::uint32_t base, std::uint32_t length);
// 6.4.2.5 "I/O Port Descriptor": a fixed range, 16-bit decode.
void append_io_port(Bytes& out, std::uint16_t port, std::uint8_t length);
// 6.4.3.6 "Extended Interrupt Descriptor": one GSI, consumer, active high,
// exclusive; level or edge triggered.
enum class Trigger : std::uint8_t { level, edge };
void append_interrupt(Bytes& out, std::uint32_t gsi, Trigger trigger);
// 6.4.2.9 "End Tag", with the checksum that makes `out` (the whole
// resource template) sum to zero.
void append_end_tag(Bytes& out);

}  // namespace boxy::vm::aml
