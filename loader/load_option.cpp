// SPDX-License-Identifier: MIT
#include "load_option.hpp"

#include "utf.hpp"

namespace boxy::loader {
namespace {

// Device path node header (UEFI 2.10, section 10.3.1).
constexpr std::uint8_t kTypeMedia = 0x04;
constexpr std::uint8_t kSubtypeFilePath = 0x04;
constexpr std::uint8_t kTypeEnd = 0x7F;
constexpr std::uint8_t kSubtypeEndEntire = 0xFF;
constexpr std::size_t kNodeHeaderBytes = 4;

// EFI_LOAD_OPTION starts with UINT32 Attributes, UINT16 FilePathListLength.
constexpr std::size_t kLoadOptionHeaderBytes = 6;

std::uint16_t read_u16(Bytes b, std::size_t at)
{
    return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}

std::uint32_t read_u32(Bytes b, std::size_t at)
{
    return static_cast<std::uint32_t>(b[at]) | (static_cast<std::uint32_t>(b[at + 1]) << 8) |
           (static_cast<std::uint32_t>(b[at + 2]) << 16) |
           (static_cast<std::uint32_t>(b[at + 3]) << 24);
}

}  // namespace

std::string_view to_string(DevicePathError e)
{
    switch (e) {
        case DevicePathError::truncated_node: return "device path node runs past the end";
        case DevicePathError::bad_node_length: return "device path node shorter than its header";
        case DevicePathError::no_end_node: return "device path has no end node";
    }
    return "unknown device path error";
}

std::string_view to_string(LoadOptionError e)
{
    switch (e) {
        case LoadOptionError::too_short: return "load option shorter than its header";
        case LoadOptionError::unterminated_description:
            return "load option description not terminated";
        case LoadOptionError::file_path_list_overrun:
            return "load option file path list overruns it";
        case LoadOptionError::bad_file_path_list: return "load option file path list is malformed";
    }
    return "unknown load option error";
}

Result<std::size_t, DevicePathError> device_path_size(Bytes bytes)
{
    std::size_t at = 0;
    // Every node is at least 4 bytes, so this loop ends within size/4 steps.
    while (true) {
        if (bytes.size() - at < kNodeHeaderBytes) {
            return make_error(at == bytes.size() ? DevicePathError::no_end_node
                                                 : DevicePathError::truncated_node);
        }
        const std::uint8_t type = bytes[at];
        const std::uint8_t subtype = bytes[at + 1];
        const std::uint16_t length = read_u16(bytes, at + 2);
        if (length < kNodeHeaderBytes) {
            return make_error(DevicePathError::bad_node_length);
        }
        if (length > bytes.size() - at) {
            return make_error(DevicePathError::truncated_node);
        }
        at += length;
        if (type == kTypeEnd && subtype == kSubtypeEndEntire) {
            return at;
        }
    }
}

Result<LoadOption, LoadOptionError> parse_load_option(Bytes bytes)
{
    if (bytes.size() < kLoadOptionHeaderBytes) {
        return make_error(LoadOptionError::too_short);
    }
    LoadOption option;
    option.attributes = read_u32(bytes, 0);
    const std::size_t path_length = read_u16(bytes, 4);

    std::size_t at = kLoadOptionHeaderBytes;
    const std::size_t description_start = at;
    while (true) {
        if (bytes.size() - at < 2) {
            return make_error(LoadOptionError::unterminated_description);
        }
        if (read_u16(bytes, at) == 0) {
            break;
        }
        at += 2;
    }
    option.description = bytes.subspan(description_start, at - description_start);
    at += 2;  // the NUL

    if (path_length > bytes.size() - at) {
        return make_error(LoadOptionError::file_path_list_overrun);
    }
    option.file_path_list = bytes.subspan(at, path_length);
    auto first_path = device_path_size(option.file_path_list);
    if (!first_path) {
        return make_error(LoadOptionError::bad_file_path_list);
    }
    option.optional_data = bytes.subspan(at + path_length);
    return option;
}

EfiPath file_path_of(Bytes device_path)
{
    EfiPath out;
    std::size_t at = 0;
    while (device_path.size() - at >= kNodeHeaderBytes) {
        const std::uint8_t type = device_path[at];
        const std::uint8_t subtype = device_path[at + 1];
        const std::uint16_t length = read_u16(device_path, at + 2);
        if (length < kNodeHeaderBytes || length > device_path.size() - at ||
            (type == kTypeEnd && subtype == kSubtypeEndEntire)) {
            break;
        }
        if (type == kTypeMedia && subtype == kSubtypeFilePath) {
            // PathName is a NUL-terminated CHAR16 string filling the node.
            const std::size_t units = (length - kNodeHeaderBytes) / 2;
            char16_t name[kMaxPathBytes + 1]{};
            std::size_t n = 0;
            for (; n < units && n < kMaxPathBytes; ++n) {
                name[n] =
                    static_cast<char16_t>(read_u16(device_path, at + kNodeHeaderBytes + 2 * n));
            }
            char utf8[kMaxPathBytes + 1];
            ucs2_to_utf8(name, n, utf8, sizeof utf8);
            const std::string_view part{utf8};
            // Nodes may or may not carry their own separators.
            if (!part.empty() && part[0] != '\\' && (out.empty() || out.view().back() != '\\')) {
                out.push_back('\\');
            }
            out.append(part);
        }
        at += length;
    }
    return out;
}

std::span<const std::uint16_t> entries_after(std::span<const std::uint16_t> order, bool has_current,
                                             std::uint16_t current)
{
    if (has_current) {
        for (std::size_t i = 0; i < order.size(); ++i) {
            if (order[i] == current) {
                return order.subspan(i + 1);
            }
        }
    }
    return order;
}

}  // namespace boxy::loader
