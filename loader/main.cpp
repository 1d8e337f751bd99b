// SPDX-License-Identifier: MIT
//
// boxy.efi entry point. The boot flow (docs/architecture.md):
//   1. banner on the firmware console and COM1;
//   2. read boxy.conf beside boxy.efi;
//   3. chain-load `next` with `options`, or without a config the next
//      BootOrder entry, else \EFI\BOOT\BOOTX64.EFI unless that is us.
// Every failure prints what went wrong and what to do, then returns to the
// firmware (which moves on to its next boot option); nothing here hangs.
#include "config.hpp"
#include "console.hpp"
#include "efi.hpp"
#include "firmware.hpp"
#include "hypervisor.hpp"
#include "load_option.hpp"
#include "path.hpp"
#include "utf.hpp"

#include <boxy/version.hpp>

#include <algorithm>

namespace boxy::loader {
namespace {

constexpr std::string_view kPrefix = "boxy: ";

struct Ucs2Options {
    char16_t units[kMaxOptionsBytes + 1];
    std::size_t size{0};
    [[nodiscard]] std::u16string_view view() const { return {units, size}; }
};

void report_chainload_error(const ChainloadError& error, std::string_view what)
{
    if (error.stage == ChainloadError::Stage::load) {
        console << kPrefix << "error: cannot load " << what << ": ";
    } else {
        console << kPrefix << "error: " << what << " returned: ";
    }
    console.status(error.status) << "\n";
}

EFI_STATUS boot_configured(const OwnImage& own, const EfiPath& dir, const Config& config)
{
    auto next = resolve_path(dir.view(), config.next.view());
    if (!next) {
        console << kPrefix << "error: boxy.conf: bad 'next': " << next.error().message.view()
                << "\n";
        return EFI_INVALID_PARAMETER;
    }
    Ucs2Options options;
    const long units = utf8_to_ucs2(config.options.view(), options.units, kMaxOptionsBytes + 1);
    if (units < 0) {
        console << kPrefix
                << "error: boxy.conf: 'options' holds characters that UEFI load options "
                   "(UCS-2) cannot carry\n";
        return EFI_INVALID_PARAMETER;
    }
    options.size = static_cast<std::size_t>(units);

    EFI_DEVICE_PATH* path = file_device_path(own.device, *next);
    if (path == nullptr) {
        console << kPrefix << "error: out of memory building the path of " << next->view() << "\n";
        return EFI_OUT_OF_RESOURCES;
    }
    console << kPrefix << "starting " << next->view();
    if (options.size > 0) {
        console << " with options '" << config.options.view() << "'";
    }
    console << "\n";
    const auto result = chainload(own.handle, {path, false, options.view()});
    FixedString<kMaxPathBytes + 64> what;
    what.append(next->view()).append(" (boxy.conf 'next')");
    report_chainload_error(result.error(), what.view());
    console << kPrefix << "check 'next' in boxy.conf; returning to the firmware\n";
    return result.error().status;
}

// Tries the Boot#### entries after the running one, in BootOrder.
EFI_STATUS boot_from_boot_order(const OwnImage& own)
{
    auto order = read_global_variable(u"BootOrder");
    auto current = read_global_variable(u"BootCurrent");
    if (order) {
        const auto bytes = order->bytes();
        // BootOrder is an array of UINT16 (UEFI 2.10, 3.3 Globally Defined Variables).
        std::uint16_t entries[256];
        const std::size_t count = std::min(bytes.size() / 2, sizeof entries / sizeof entries[0]);
        for (std::size_t i = 0; i < count; ++i) {
            entries[i] = static_cast<std::uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
        }
        const bool has_current = current && current->bytes().size() == 2;
        const std::uint16_t current_id =
            has_current
                ? static_cast<std::uint16_t>(current->bytes()[0] | (current->bytes()[1] << 8))
                : 0;
        for (const std::uint16_t id : entries_after({entries, count}, has_current, current_id)) {
            char16_t name[9] = u"Boot0000";
            constexpr std::string_view kHex = "0123456789ABCDEF";
            for (int d = 0; d < 4; ++d) {
                name[7 - d] = static_cast<char16_t>(kHex[(id >> (4 * d)) & 0xF]);
            }
            FixedString<16> label;
            label.append("Boot").append_hex(id, 4);
            auto variable = read_global_variable({name, 8});
            if (!variable) {
                continue;
            }
            auto option = parse_load_option(variable->bytes());
            if (!option) {
                console << kPrefix << "skipping " << label.view() << ": "
                        << to_string(option.error()) << "\n";
                continue;
            }
            const EfiPath file = file_path_of(option->file_path_list);
            if (!option->boots_automatically() ||
                (!file.empty() && same_file(file.view(), own.path.view()))) {
                continue;
            }
            char description[128];
            ucs2_to_utf8(reinterpret_cast<const char16_t*>(option->description.data()),
                         option->description.size() / 2, description, sizeof description);
            console << kPrefix << "starting " << label.view() << " '"
                    << std::string_view{description} << "'\n";
            // Optional data is what the boot manager passes as load options.
            // Copy it out: it may be unaligned inside the variable.
            Ucs2Options options;
            options.size = std::min(option->optional_data.size() / 2, kMaxOptionsBytes);
            for (std::size_t i = 0; i < options.size; ++i) {
                options.units[i] = static_cast<char16_t>(option->optional_data[2 * i] |
                                                         (option->optional_data[2 * i + 1] << 8));
            }
            // The variable's bytes are firmware data that LoadImage only reads.
            auto* path = reinterpret_cast<EFI_DEVICE_PATH*>(
                const_cast<std::uint8_t*>(option->file_path_list.data()));
            const auto result = chainload(own.handle, {path, true, options.view()});
            report_chainload_error(result.error(), label.view());
            if (result.error().stage == ChainloadError::Stage::start) {
                return result.error().status;
            }
        }
    }
    // No usable entry: the removable-media default, unless that is us.
    const EfiPath fallback{kDefaultLoaderPath};
    if (same_file(own.path.view(), fallback.view())) {
        console << kPrefix
                << "error: no boot entry after this one and boxy.efi is itself the default loader "
                << fallback.view() << "; create boxy.conf beside boxy.efi with next = '<path>'\n";
        return EFI_NOT_FOUND;
    }
    console << kPrefix << "starting the default loader " << fallback.view() << "\n";
    EFI_DEVICE_PATH* path = file_device_path(own.device, fallback);
    if (path == nullptr) {
        return EFI_OUT_OF_RESOURCES;
    }
    const auto result = chainload(own.handle, {path, false, {}});
    report_chainload_error(result.error(), fallback.view());
    return result.error().status;
}

EFI_STATUS run(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table)
{
    console.init(system_table);
    console << "\n" << kBanner << "\n";

    auto own = locate_own_image(image);
    if (!own) {
        console << kPrefix << "error: cannot find boxy.efi's own image: ";
        console.status(own.error()) << "\n";
        return own.error();
    }
    const EfiPath dir = directory_of(own->path.view());
    auto conf_path = resolve_path(dir.view(), kConfigFileName);
    if (!conf_path) {
        console << kPrefix << "error: " << conf_path.error().message.view() << "\n";
        return EFI_INVALID_PARAMETER;
    }
    console << kPrefix << "running from " << own->path.view() << "\n";

    auto text = read_file(own->device, *conf_path, kMaxConfigBytes);
    if (!text) {
        if (text.error() == EFI_NOT_FOUND) {
            console << kPrefix << "no " << conf_path->view() << "; booting the next boot entry\n";
            (void)start_hypervisor(image);
            return boot_from_boot_order(*own);
        }
        console << kPrefix << "error: cannot read " << conf_path->view() << ": ";
        console.status(text.error()) << "\n" << kPrefix << "returning to the firmware\n";
        return text.error();
    }
    auto config = parse_config(text->text());
    if (!config) {
        console << kPrefix << "error: " << conf_path->view();
        if (config.error().line != 0) {
            console << ":" << config.error().line;
        }
        console << ": " << config.error().message.view() << "\n"
                << kPrefix << "fix boxy.conf; returning to the firmware\n";
        return EFI_INVALID_PARAMETER;
    }
    if (config->hypervisor) {
        (void)start_hypervisor(image);
    } else {
        console << kPrefix << "hypervisor = \"off\" in boxy.conf: booting without Boxy\n";
    }
    if (!config->has_next) {
        if (config->has_options) {
            console << kPrefix << "warning: 'options' ignored: boxy.conf has no 'next'\n";
        }
        return boot_from_boot_order(*own);
    }
    return boot_configured(*own, dir, *config);
}

}  // namespace
}  // namespace boxy::loader

// gnu-efi's crt0 calls efi_main with the SysV calling convention.
extern "C" EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE* system_table)
{
    InitializeLib(image, system_table);
    return boxy::loader::run(image, system_table);
}
