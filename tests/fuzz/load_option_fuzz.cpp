// SPDX-License-Identifier: MIT
// Boot#### variables are writable by any OS: parse them defensively.
#include "load_option.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const boxy::loader::Bytes bytes{data, size};
    auto option = boxy::loader::parse_load_option(bytes);
    if (option) {
        (void)boxy::loader::file_path_of(option->file_path_list);
    }
    (void)boxy::loader::device_path_size(bytes);
    (void)boxy::loader::file_path_of(bytes);
    return 0;
}
