// SPDX-License-Identifier: MIT
#include "config.hpp"

#include "utf.hpp"

namespace boxy::loader {
namespace {

// Builds the error for one line: error(line) << "text" << detail ...
class LineError {
public:
    explicit LineError(unsigned line) { error_.line = line; }
    LineError& operator<<(std::string_view text)
    {
        error_.message.append(text);
        return *this;
    }
    // NOLINTNEXTLINE(google-explicit-constructor): converts into any Result
    template <class T>
    operator Result<T, ConfigError>() const
    {
        return make_error(error_);
    }

private:
    ConfigError error_;
};

constexpr bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

constexpr bool is_bare_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

constexpr int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// A cursor over one line; never reads past its end.
class Cursor {
public:
    explicit Cursor(std::string_view text) : text_{text} {}
    [[nodiscard]] bool done() const { return pos_ >= text_.size(); }
    [[nodiscard]] char peek() const { return done() ? '\0' : text_[pos_]; }
    [[nodiscard]] bool starts_with(std::string_view s) const
    {
        return text_.size() - pos_ >= s.size() && text_.compare(pos_, s.size(), s) == 0;
    }
    char take() { return text_[pos_++]; }
    void skip_space()
    {
        while (!done() && is_space(peek())) {
            ++pos_;
        }
    }

private:
    std::string_view text_;
    std::size_t pos_{0};
};

using Value = FixedString<kMaxOptionsBytes + 2>;

// The part of a TOML basic-string escape after the backslash (TOML 1.0,
// "String"). Unknown escapes are errors, as TOML requires; the message
// points users at single quotes, since `\E` in `"\EFI\..."` is the classic
// mistake.
Result<void, ConfigError> parse_escape(Cursor& cur, unsigned line, Value& out)
{
    if (cur.done()) {
        return LineError(line) << "unterminated string (missing closing quote)";
    }
    const char c = cur.take();
    switch (c) {
        case '"': out.push_back('"'); return {};
        case '\\': out.push_back('\\'); return {};
        case 'b': out.push_back('\b'); return {};
        case 't': out.push_back('\t'); return {};
        case 'n': out.push_back('\n'); return {};
        case 'f': out.push_back('\f'); return {};
        case 'r': out.push_back('\r'); return {};
        case 'u':
        case 'U': {
            const int digits = c == 'u' ? 4 : 8;
            char32_t cp = 0;
            for (int i = 0; i < digits; ++i) {
                const int v = cur.done() ? -1 : hex_value(cur.take());
                if (v < 0) {
                    return LineError(line)
                           << "bad \\" << std::string_view{&c, 1} << " escape: expected hex digits";
                }
                cp = (cp << 4) | static_cast<char32_t>(v);
            }
            char buf[4];
            const std::size_t n = encode_utf8(cp, buf);
            if (n == 0) {
                return LineError(line) << "\\u escape is not a Unicode scalar value";
            }
            out.append(std::string_view{buf, n});
            return {};
        }
        default:
            return LineError(line)
                   << "invalid escape '\\" << std::string_view{&c, 1}
                   << "' in a double-quoted string; write paths in single quotes "
                      "(next = '\\EFI\\debian\\grubx64.efi') or double each backslash";
    }
}

// A quoted value: "basic" (with escapes) or 'literal' (none).
Result<void, ConfigError> parse_string(Cursor& cur, unsigned line, Value& out)
{
    if (cur.starts_with("\"\"\"") || cur.starts_with("'''")) {
        return LineError(line) << "multi-line strings are not supported in boxy.conf";
    }
    const char quote = cur.peek();
    if (quote != '"' && quote != '\'') {
        return LineError(line) << "value must be a quoted string, like key = \"value\"";
    }
    cur.take();
    while (true) {
        if (cur.done()) {
            return LineError(line)
                   << "unterminated string (missing closing " << std::string_view{&quote, 1} << ")";
        }
        const char c = cur.take();
        if (c == quote) {
            return {};
        }
        if (quote == '"' && c == '\\') {
            BOXY_TRY(parse_escape(cur, line, out));
            continue;
        }
        out.push_back(c);
    }
}

struct KeySpec {
    std::string_view name;
    std::size_t max_bytes;
};

constexpr KeySpec kKeys[] = {
    {"next", kMaxPathBytes},
    {"options", kMaxOptionsBytes},
    {"hypervisor", 8},
};

// Control characters in a value are always a mistake (often "\t" or "\n" in
// a double-quoted path), and the firmware would mangle them.
bool has_control_char(std::string_view value)
{
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            return true;
        }
    }
    return false;
}

Result<void, ConfigError> store(Config& config, std::string_view key, const Value& value,
                                unsigned line)
{
    const KeySpec* spec = nullptr;
    for (const auto& k : kKeys) {
        if (k.name == key) {
            spec = &k;
        }
    }
    if (spec == nullptr) {
        return LineError(line) << "unknown key '" << key
                               << "' (known keys: next, options, hypervisor)";
    }
    if (value.truncated() || value.size() > spec->max_bytes) {
        FixedString<24> limit;
        limit.append_uint(spec->max_bytes);
        return LineError(line) << "value of '" << key << "' is longer than " << limit.view()
                               << " bytes";
    }
    if (has_control_char(value.view())) {
        return LineError(line) << "value of '" << key
                               << "' contains a control character (a \\t or \\n escape in a "
                                  "double-quoted path? use single quotes)";
    }
    if (key == "hypervisor") {
        if (config.has_hypervisor) {
            return LineError(line) << "duplicate key 'hypervisor'";
        }
        if (value.view() != "on" && value.view() != "off") {
            return LineError(line) << "'hypervisor' must be \"on\" or \"off\"";
        }
        config.hypervisor = value.view() == "on";
        config.has_hypervisor = true;
        return {};
    }
    if (key == "next") {
        if (config.has_next) {
            return LineError(line) << "duplicate key 'next'";
        }
        if (value.empty()) {
            return LineError(line) << "'next' is empty; give the path of an EFI image";
        }
        config.next.append(value.view());
        config.has_next = true;
    } else {
        if (config.has_options) {
            return LineError(line) << "duplicate key 'options'";
        }
        config.options.append(value.view());
        config.has_options = true;
    }
    return {};
}

Result<void, ConfigError> parse_line(Config& config, std::string_view text, unsigned line)
{
    Cursor cur{text};
    cur.skip_space();
    if (cur.done() || cur.peek() == '#') {
        return {};
    }
    if (cur.peek() == '[') {
        return LineError(line) << "tables ([section]) are not supported in boxy.conf";
    }
    if (cur.peek() == '"' || cur.peek() == '\'') {
        return LineError(line) << "quoted keys are not supported; write the key bare, like next";
    }
    FixedString<32> key;
    while (!cur.done() && is_bare_key_char(cur.peek())) {
        key.push_back(cur.take());
    }
    if (key.empty()) {
        return LineError(line) << "expected a key, like: next = '\\EFI\\debian\\grubx64.efi'";
    }
    if (key.truncated()) {
        return LineError(line) << "key is too long";
    }
    cur.skip_space();
    if (cur.peek() == '.') {
        return LineError(line) << "dotted keys are not supported in boxy.conf";
    }
    if (cur.peek() != '=') {
        return LineError(line) << "expected '=' after key '" << key.view() << "'";
    }
    cur.take();
    cur.skip_space();
    if (cur.done()) {
        return LineError(line) << "missing value for key '" << key.view() << "'";
    }
    Value value;
    BOXY_TRY(parse_string(cur, line, value));
    cur.skip_space();
    if (!cur.done() && cur.peek() != '#') {
        return LineError(line) << "unexpected text after the value of '" << key.view() << "'";
    }
    return store(config, key.view(), value, line);
}

}  // namespace

Result<Config, ConfigError> parse_config(std::string_view text)
{
    if (text.size() > kMaxConfigBytes) {
        return LineError(0) << "boxy.conf is larger than 64 KiB";
    }
    // A UTF-8 byte order mark is harmless; editors on Windows add it.
    if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) {
        text.remove_prefix(3);
    }
    Config config;
    unsigned line = 1;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view row{text.data() + start, end - start};
        if (!row.empty() && row.back() == '\r') {
            row.remove_suffix(1);
        }
        if (row.find('\0') != std::string_view::npos) {
            return LineError(line) << "NUL byte in boxy.conf (is it a text file?)";
        }
        if (!is_valid_utf8(row)) {
            return LineError(line) << "boxy.conf is not valid UTF-8";
        }
        BOXY_TRY(parse_line(config, row, line));
        if (end == text.size()) {
            break;
        }
        start = end + 1;
        ++line;
    }
    return config;
}

}  // namespace boxy::loader
