// SPDX-License-Identifier: MIT
#include "console.hpp"

#include "utf.hpp"

#include <arch/x64/uart16550.hpp>
#include <boxy/fixed_string.hpp>

namespace boxy::loader {

constinit Console console;

namespace {

constinit x64::Uart16550 com1;

// Device path node type/subtype of a UART (UEFI 2.10, section 10.3.4.13).
constexpr UINT8 kMessagingDevicePath = 0x03;
constexpr UINT8 kUartSubtype = 0x0E;

bool device_path_has_uart(EFI_DEVICE_PATH* node)
{
    // A device path ends with an End node; bound the walk regardless.
    for (unsigned i = 0; node != nullptr && i < 64 && !IsDevicePathEnd(node); ++i) {
        if (DevicePathType(node) == kMessagingDevicePath &&
            DevicePathSubType(node) == kUartSubtype) {
            return true;
        }
        if (static_cast<std::size_t>(DevicePathNodeLength(node)) < sizeof(EFI_DEVICE_PATH)) {
            return false;
        }
        node = NextDevicePathNode(node);
    }
    return false;
}

// True when some text-output device of the firmware sits on a serial port:
// then the firmware console already mirrors to it.
bool firmware_console_on_serial()
{
    UINTN count = 0;
    EFI_HANDLE* handles = nullptr;
    EFI_GUID text_out = SIMPLE_TEXT_OUTPUT_PROTOCOL;
    if (efi_failed(BS->LocateHandleBuffer(ByProtocol, &text_out, nullptr, &count, &handles))) {
        return false;
    }
    bool found = false;
    EFI_GUID device_path_guid = DEVICE_PATH_PROTOCOL;
    for (UINTN i = 0; i < count && !found; ++i) {
        EFI_DEVICE_PATH* path = nullptr;
        if (!efi_failed(BS->HandleProtocol(handles[i], &device_path_guid,
                                           reinterpret_cast<void**>(&path)))) {
            found = device_path_has_uart(path);
        }
    }
    BS->FreePool(handles);
    return found;
}

}  // namespace

void Console::init(EFI_SYSTEM_TABLE* system_table)
{
    con_out_ = system_table->ConOut;
    write_com1_ = !firmware_console_on_serial() && com1.init();
}

void Console::write_firmware(std::string_view text)
{
    if (con_out_ == nullptr) {
        return;
    }
    // Convert in chunks; "\n" becomes "\r\n" as the firmware console needs.
    char16_t chunk[128];
    std::size_t n = 0;
    auto flush = [&] {
        chunk[n] = u'\0';
        con_out_->OutputString(con_out_, reinterpret_cast<CHAR16*>(chunk));
        n = 0;
    };
    while (!text.empty()) {
        std::size_t take = 1;
        while (take < text.size() && take < 4 &&
               (static_cast<unsigned char>(text[take]) & 0xC0) == 0x80) {
            ++take;
        }
        char16_t unit[2];
        if (utf8_to_ucs2(std::string_view{text.data(), take}, unit, 2) != 1) {
            unit[0] = u'?';
        }
        if (n + 3 >= sizeof chunk / sizeof chunk[0]) {
            flush();
        }
        if (unit[0] == u'\n') {
            chunk[n++] = u'\r';
        }
        chunk[n++] = unit[0];
        text.remove_prefix(take);
    }
    if (n > 0) {
        flush();
    }
}

Console& Console::operator<<(std::string_view text)
{
    write_firmware(text);
    if (write_com1_) {
        com1.write(text);
    }
    return *this;
}

Console& Console::operator<<(std::uint64_t value)
{
    FixedString<24> text;
    text.append_uint(value);
    return *this << text.view();
}

Console& Console::status(EFI_STATUS status)
{
    CHAR16 name[64]{};
    StatusToString(name, status);
    char utf8[128];
    ucs2_to_utf8(reinterpret_cast<const char16_t*>(name), 64, utf8, sizeof utf8);
    FixedString<24> code;
    code.append(" (0x").append_hex(status).append(")");
    return *this << std::string_view{utf8} << code.view();
}

}  // namespace boxy::loader
