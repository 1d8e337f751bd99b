// SPDX-License-Identifier: MIT
//
// boxyctl: Boxy's command-line tool on the host. See README.md.
#include "commands.hpp"
#include "device.hpp"

#include <cstddef>
#include <exception>
#include <iostream>
#include <span>

int main(int argc, char** argv)
{
    try {
        const std::span<const char* const> args{argv, static_cast<std::size_t>(argc)};
        return boxy::boxyctl::boxyctl_main(args, boxy::boxyctl::open_device, std::cout, std::cerr);
    } catch (const std::exception& error) {
        // Out of memory and the like; every expected failure is a value.
        std::cerr << "boxyctl: " << error.what() << '\n';
        return boxy::boxyctl::kExitFailure;
    }
}
