// SPDX-License-Identifier: MIT
#include "path.hpp"

namespace boxy::loader {
namespace {

constexpr bool is_separator(char c)
{
    return c == '\\' || c == '/';
}

constexpr char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

Unexpected<PathError> path_error(std::string_view message, std::string_view path)
{
    PathError e;
    e.message.append(message).append(": '").append(path).append("'");
    return make_error(e);
}

}  // namespace

EfiPath directory_of(std::string_view image_path)
{
    std::size_t cut = 0;
    for (std::size_t i = 0; i < image_path.size(); ++i) {
        if (is_separator(image_path[i])) {
            cut = i + 1;
        }
    }
    EfiPath dir;
    if (cut == 0 || !is_separator(image_path[0])) {
        dir.push_back('\\');
    }
    for (std::size_t i = 0; i < cut; ++i) {
        dir.push_back(is_separator(image_path[i]) ? '\\' : image_path[i]);
    }
    return dir;
}

Result<EfiPath, PathError> resolve_path(std::string_view base_dir, std::string_view path)
{
    if (path.empty()) {
        return path_error("empty path", path);
    }
    if (is_separator(path.back())) {
        return path_error("path names a directory, not an EFI image", path);
    }
    // Component offsets into `out`, so ".." can drop the last one.
    constexpr std::size_t kMaxDepth = 64;
    std::size_t starts[kMaxDepth];
    std::size_t depth = 0;
    EfiPath out;

    auto walk = [&](std::string_view text) -> bool {
        std::size_t i = 0;
        while (i < text.size()) {
            while (i < text.size() && is_separator(text[i])) {
                ++i;
            }
            const std::size_t begin = i;
            while (i < text.size() && !is_separator(text[i])) {
                ++i;
            }
            const std::string_view part{text.data() + begin, i - begin};
            if (part.empty() || part == ".") {
                continue;
            }
            if (part == "..") {
                if (depth == 0) {
                    return false;
                }
                --depth;
                // Rebuild `out` up to the dropped component.
                EfiPath shorter;
                shorter.append(std::string_view{out.c_str(), starts[depth]});
                out = shorter;
                continue;
            }
            if (depth == kMaxDepth) {
                return false;
            }
            starts[depth++] = out.size();
            out.push_back('\\').append(part);
        }
        return true;
    };

    const bool absolute = is_separator(path[0]);
    if (!absolute && !walk(base_dir)) {
        return path_error("bad base directory", base_dir);
    }
    if (!walk(path)) {
        return path_error("path goes above the root of the volume (or is too deep)", path);
    }
    if (out.empty()) {
        return path_error("path names the root directory", path);
    }
    if (out.truncated()) {
        return path_error("path is too long", path);
    }
    return out;
}

bool same_file(std::string_view a, std::string_view b)
{
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        const char x = is_separator(a[i]) ? '\\' : ascii_lower(a[i]);
        const char y = is_separator(b[i]) ? '\\' : ascii_lower(b[i]);
        if (x != y) {
            return false;
        }
    }
    return true;
}

}  // namespace boxy::loader
