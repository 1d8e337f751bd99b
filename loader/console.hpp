// SPDX-License-Identifier: MIT
//
// The loader's log: every line goes to the firmware console (the screen on
// a real machine) and to COM1, which is how tests and users with a serial
// cable see what happened. When the firmware console already reaches a
// serial port, COM1 is not written directly, so lines are not doubled.
#pragma once

#include "efi.hpp"

#include <cstdint>
#include <string_view>

namespace boxy::loader {

class Console {
public:
    void init(EFI_SYSTEM_TABLE* system_table);

    Console& operator<<(std::string_view text);
    Console& operator<<(std::uint64_t value);
    // Renders an EFI_STATUS as the firmware names it ("Not Found").
    Console& status(EFI_STATUS status);

private:
    void write_firmware(std::string_view text);

    EFI_SIMPLE_TEXT_OUT_PROTOCOL* con_out_{nullptr};
    bool write_com1_{false};
};

// The one console of the loader (constant-initialised: gnu-efi runs no
// global constructors).
extern Console console;

}  // namespace boxy::loader
