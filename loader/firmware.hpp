// SPDX-License-Identifier: MIT
//
// The loader's calls into UEFI boot services: files on its own volume,
// variables, and chain-loading an image. Each returns the firmware's status
// as a value; the caller decides what to tell the user.
#pragma once

#include "efi.hpp"
#include "path.hpp"

#include <boxy/result.hpp>

#include <cstdint>
#include <span>
#include <string_view>

namespace boxy::loader {

// A pool buffer freed on destruction.
class PoolBuffer {
public:
    PoolBuffer() = default;
    PoolBuffer(void* data, std::size_t size) : data_{data}, size_{size} {}
    PoolBuffer(const PoolBuffer&) = delete;
    PoolBuffer(PoolBuffer&& other) noexcept : data_{other.data_}, size_{other.size_}
    {
        other.data_ = nullptr;
    }
    PoolBuffer& operator=(const PoolBuffer&) = delete;
    PoolBuffer& operator=(PoolBuffer&&) = delete;
    ~PoolBuffer()
    {
        if (data_ != nullptr) {
            BS->FreePool(data_);
        }
    }
    [[nodiscard]] std::span<const std::uint8_t> bytes() const
    {
        return {static_cast<const std::uint8_t*>(data_), size_};
    }
    [[nodiscard]] std::string_view text() const { return {static_cast<const char*>(data_), size_}; }

private:
    void* data_{nullptr};
    std::size_t size_{0};
};

struct OwnImage {
    EFI_HANDLE handle{nullptr};
    EFI_HANDLE device{nullptr};  // the volume boxy.efi was loaded from
    EfiPath path;                // "\EFI\boxy\boxy.efi"
};

[[nodiscard]] Result<OwnImage, EFI_STATUS> locate_own_image(EFI_HANDLE image);

// Reads a whole file of at most `max_bytes` from the volume `device`.
// EFI_BAD_BUFFER_SIZE if the file is larger.
[[nodiscard]] Result<PoolBuffer, EFI_STATUS> read_file(EFI_HANDLE device, const EfiPath& path,
                                                       std::size_t max_bytes);

// Reads an EFI global variable (BootOrder, Boot####, ...).
[[nodiscard]] Result<PoolBuffer, EFI_STATUS> read_global_variable(std::u16string_view name);

struct ChainloadTarget {
    EFI_DEVICE_PATH* device_path{nullptr};
    bool boot_policy{false};           // TRUE for BootOrder entries (UEFI 2.10, 7.4 LoadImage)
    std::u16string_view load_options;  // UCS-2, without the NUL
};

struct ChainloadError {
    enum class Stage { load, start } stage;
    EFI_STATUS status;
};

// LoadImage + StartImage. Returns only if the image could not be loaded or
// it returned (an OS loader that returns has failed).
[[nodiscard]] Result<void, ChainloadError> chainload(EFI_HANDLE parent,
                                                     const ChainloadTarget& target);

// A device path for `path` on the volume `device` (pool allocated by
// gnu-efi); nullptr if out of memory.
[[nodiscard]] EFI_DEVICE_PATH* file_device_path(EFI_HANDLE device, const EfiPath& path);

}  // namespace boxy::loader
