// SPDX-License-Identifier: MIT
#include "log.hpp"

#include <arch/x64/uart16550.hpp>

namespace boxy::vmm::log {
namespace {

constinit x64::Uart16550 com1;
constinit Level max_level = Level::info;
// A test-and-set lock: logging is rare and lines are short.
constinit volatile std::uint32_t line_lock = 0;

void lock()
{
    while (__atomic_exchange_n(&line_lock, 1U, __ATOMIC_ACQUIRE) != 0) {
        asm volatile("pause");
    }
}

void unlock()
{
    __atomic_store_n(&line_lock, 0U, __ATOMIC_RELEASE);
}

constexpr std::string_view level_tag(Level level)
{
    switch (level) {
        case Level::error: return "E";
        case Level::warn: return "W";
        case Level::info: return "I";
        case Level::debug: return "D";
    }
    return "?";
}

}  // namespace

void init(Level level)
{
    max_level = level;
    com1.init();
}

bool enabled(Level level)
{
    return level <= max_level;
}

Line::Line(Level level, std::uint32_t cpu) : enabled_{enabled(level)}
{
    if (!enabled_) {
        return;
    }
    text_.append("boxy[");
    if (cpu == kNoCpu) {
        text_.append("-");
    } else {
        text_.append("cpu").append_uint(cpu);
    }
    text_.append("] ").append(level_tag(level)).append(": ");
}

Line::~Line()
{
    if (!enabled_) {
        return;
    }
    if (text_.truncated()) {
        text_.clear();
        text_.append("...(log line truncated)");
    }
    lock();
    com1.write(text_.view());
    com1.write("\n");
    unlock();
}

Line& Line::operator<<(std::string_view text)
{
    if (enabled_) {
        text_.append(text);
    }
    return *this;
}

Line& Line::operator<<(std::uint64_t value)
{
    if (enabled_) {
        text_.append_uint(value);
    }
    return *this;
}

Line& Line::operator<<(Hex value)
{
    if (enabled_) {
        text_.append("0x").append_hex(value.value);
    }
    return *this;
}

}  // namespace boxy::vmm::log
