// SPDX-License-Identifier: MIT
// boxy.conf comes from a user-writable ESP: any bytes must give a value or
// an error, never a crash or an out-of-bounds access.
#include "config.hpp"
#include "path.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text{reinterpret_cast<const char*>(data), size};
    auto config = boxy::loader::parse_config(text);
    if (config && config->has_next) {
        auto path = boxy::loader::resolve_path("\\EFI\\boxy\\", config->next.view());
        if (path) {
            (void)boxy::loader::same_file(path->view(), boxy::loader::kDefaultLoaderPath);
        }
    }
    return 0;
}
