// SPDX-License-Identifier: MIT
#include "firmware.hpp"

#include "load_option.hpp"
#include "utf.hpp"

namespace boxy::loader {
namespace {

// Bound for device paths whose size the firmware does not tell us.
constexpr std::size_t kMaxDevicePathBytes = 4096;

// UTF-8 path to a NUL-terminated UCS-2 buffer.
bool to_ucs2(const EfiPath& path, char16_t (&out)[kMaxPathBytes + 1])
{
    return utf8_to_ucs2(path.view(), out, kMaxPathBytes + 1) >= 0;
}

CHAR16* as_efi(char16_t* text)
{
    // CHAR16 is wchar_t under -fshort-wchar: same size and representation
    // as char16_t (static_assert in efi.hpp), so the firmware reads it as is.
    return reinterpret_cast<CHAR16*>(text);
}

}  // namespace

Result<OwnImage, EFI_STATUS> locate_own_image(EFI_HANDLE image)
{
    EFI_LOADED_IMAGE* loaded = nullptr;
    EFI_GUID guid = LOADED_IMAGE_PROTOCOL;
    const EFI_STATUS status = BS->HandleProtocol(image, &guid, reinterpret_cast<void**>(&loaded));
    if (efi_failed(status)) {
        return make_error(status);
    }
    OwnImage own;
    own.handle = image;
    own.device = loaded->DeviceHandle;
    if (loaded->FilePath != nullptr) {
        // LoadedImage->FilePath is trusted firmware data, but bound the walk.
        const auto* start = reinterpret_cast<const std::uint8_t*>(loaded->FilePath);
        const auto size = device_path_size({start, kMaxDevicePathBytes});
        if (size) {
            own.path = file_path_of({start, *size});
        }
    }
    return own;
}

Result<PoolBuffer, EFI_STATUS> read_file(EFI_HANDLE device, const EfiPath& path,
                                         std::size_t max_bytes)
{
    char16_t name[kMaxPathBytes + 1];
    if (!to_ucs2(path, name)) {
        return make_error(EFI_INVALID_PARAMETER);
    }
    EFI_FILE_HANDLE root = LibOpenRoot(device);
    if (root == nullptr) {
        return make_error(EFI_UNSUPPORTED);
    }
    EFI_FILE_HANDLE file = nullptr;
    EFI_STATUS status = root->Open(root, &file, as_efi(name), EFI_FILE_MODE_READ, 0);
    root->Close(root);
    if (efi_failed(status)) {
        return make_error(status);
    }
    EFI_FILE_INFO* info = LibFileInfo(file);
    if (info == nullptr) {
        file->Close(file);
        return make_error(EFI_DEVICE_ERROR);
    }
    const UINT64 size = info->FileSize;
    const bool is_directory = (info->Attribute & EFI_FILE_DIRECTORY) != 0;
    BS->FreePool(info);
    if (is_directory) {
        file->Close(file);
        return make_error(EFI_INVALID_PARAMETER);
    }
    if (size > max_bytes) {
        file->Close(file);
        return make_error(EFI_BAD_BUFFER_SIZE);
    }
    void* data = nullptr;
    status = BS->AllocatePool(EfiLoaderData, size + 1, &data);
    if (efi_failed(status)) {
        file->Close(file);
        return make_error(status);
    }
    UINTN read = size;
    status = file->Read(file, &read, data);
    file->Close(file);
    PoolBuffer buffer{data, read};
    if (efi_failed(status)) {
        return make_error(status);
    }
    if (read != size) {
        return make_error(EFI_DEVICE_ERROR);
    }
    return buffer;
}

Result<PoolBuffer, EFI_STATUS> read_global_variable(std::u16string_view name)
{
    char16_t name_z[32];
    if (name.size() >= sizeof name_z / sizeof name_z[0]) {
        return make_error(EFI_INVALID_PARAMETER);
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        name_z[i] = name[i];
    }
    name_z[name.size()] = u'\0';
    EFI_GUID guid = EFI_GLOBAL_VARIABLE;
    UINTN size = 0;
    EFI_STATUS status = RT->GetVariable(as_efi(name_z), &guid, nullptr, &size, nullptr);
    if (status != EFI_BUFFER_TOO_SMALL) {
        return make_error(efi_failed(status) ? status : EFI_NOT_FOUND);
    }
    void* data = nullptr;
    status = BS->AllocatePool(EfiLoaderData, size, &data);
    if (efi_failed(status)) {
        return make_error(status);
    }
    PoolBuffer buffer{data, size};
    status = RT->GetVariable(as_efi(name_z), &guid, nullptr, &size, data);
    if (efi_failed(status)) {
        return make_error(status);
    }
    return buffer;
}

EFI_DEVICE_PATH* file_device_path(EFI_HANDLE device, const EfiPath& path)
{
    char16_t name[kMaxPathBytes + 1];
    if (!to_ucs2(path, name)) {
        return nullptr;
    }
    return FileDevicePath(device, as_efi(name));
}

Result<void, ChainloadError> chainload(EFI_HANDLE parent, const ChainloadTarget& target)
{
    using Stage = ChainloadError::Stage;
    EFI_HANDLE child = nullptr;
    EFI_STATUS status = BS->LoadImage(target.boot_policy ? TRUE : FALSE, parent, target.device_path,
                                      nullptr, 0, &child);
    if (efi_failed(status)) {
        return make_error(ChainloadError{Stage::load, status});
    }
    // Load options are UCS-2 with the size in bytes including the NUL
    // (UEFI 2.10, 9.1 EFI_LOADED_IMAGE_PROTOCOL). The buffer must outlive
    // this call: the image may keep the pointer, so it is never freed.
    if (!target.load_options.empty()) {
        EFI_LOADED_IMAGE* loaded = nullptr;
        EFI_GUID guid = LOADED_IMAGE_PROTOCOL;
        status = BS->HandleProtocol(child, &guid, reinterpret_cast<void**>(&loaded));
        if (efi_failed(status)) {
            BS->UnloadImage(child);
            return make_error(ChainloadError{Stage::load, status});
        }
        const std::size_t bytes = (target.load_options.size() + 1) * sizeof(char16_t);
        void* options = nullptr;
        status = BS->AllocatePool(EfiLoaderData, bytes, &options);
        if (efi_failed(status)) {
            BS->UnloadImage(child);
            return make_error(ChainloadError{Stage::load, status});
        }
        auto* units = static_cast<char16_t*>(options);
        for (std::size_t i = 0; i < target.load_options.size(); ++i) {
            units[i] = target.load_options[i];
        }
        units[target.load_options.size()] = u'\0';
        loaded->LoadOptions = options;
        loaded->LoadOptionsSize = static_cast<UINT32>(bytes);
    }
    status = BS->StartImage(child, nullptr, nullptr);
    return make_error(ChainloadError{Stage::start, status});
}

}  // namespace boxy::loader
