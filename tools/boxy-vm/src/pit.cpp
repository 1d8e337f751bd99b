// SPDX-License-Identifier: MIT
#include "pit.hpp"

#include <utility>

namespace boxy::vm {
namespace {

constexpr std::uint64_t kNsPerSecond = 1'000'000'000;
constexpr std::uint64_t kRefreshPeriodNs = 15'085;  // DRAM refresh request, port B bit 4
constexpr std::uint32_t kFullCount = 0x10000;       // a count of 0 means 65536

// Control word (8254 data sheet, "Control Word Format").
constexpr unsigned kSelectShift = 6;
constexpr unsigned kSelectChannel2 = 2;
constexpr unsigned kSelectReadBack = 3;
constexpr unsigned kAccessShift = 4;
constexpr std::uint8_t kReadBackChannel2 = 0x08;
constexpr std::uint8_t kReadBackNoCount = 0x20;  // active low: 0 latches the count
constexpr std::uint8_t kReadBackNoStatus = 0x10;
// Status byte: OUT, null count, then the control word's low six bits.
constexpr std::uint8_t kStatusOut = 0x80;
constexpr std::uint8_t kStatusNullCount = 0x40;

bool pauses_on_low_gate(std::uint8_t mode)
{
    return mode == 0 || mode == 2 || mode == 3 || mode == 4;
}

bool gate_triggered(std::uint8_t mode)
{
    return mode == 1 || mode == 5;
}

bool periodic(std::uint8_t mode)
{
    return mode == 2 || mode == 3;
}

}  // namespace

PitChannel2::PitChannel2(std::function<std::uint64_t()> now_ns) : now_ns_{std::move(now_ns)}
{
}

std::uint64_t PitChannel2::ticks_now() const
{
    const auto ns = static_cast<unsigned __int128>(now_ns_());
    return static_cast<std::uint64_t>(ns * kFrequencyHz / kNsPerSecond);
}

std::uint64_t PitChannel2::elapsed() const
{
    if (!loaded_ || (gate_triggered(mode_) && !triggered_)) {
        return 0;
    }
    if (frozen_) {
        return *frozen_;
    }
    return ticks_now() - start_tick_;
}

std::uint16_t PitChannel2::count() const
{
    const std::uint64_t n = reload_;
    const std::uint64_t e = elapsed();
    if (mode_ == 2) {
        const std::uint64_t period = n < 2 ? 2 : n;
        return static_cast<std::uint16_t>(period - e % period);
    }
    if (mode_ == 3) {
        const std::uint64_t period = n < 2 ? 2 : n;
        const std::uint64_t half = (period + 1) / 2;
        const std::uint64_t phase = e % period;
        const std::uint64_t into_half = phase < half ? phase : phase - half;
        return static_cast<std::uint16_t>((period - 2 * into_half) & ~std::uint64_t{1});
    }
    // One-shot modes: down to zero, then wrap and go on counting.
    return static_cast<std::uint16_t>((n + kFullCount - e % kFullCount) % kFullCount);
}

bool PitChannel2::out() const
{
    if (!loaded_) {
        return mode_ != 0;  // mode 0 sets OUT low on the control word, others high
    }
    const std::uint64_t e = elapsed();
    switch (mode_) {
        case 0: return e >= reload_;
        case 1: return !triggered_ || e >= reload_;
        case 2: return count() != 1;
        case 3: {
            const std::uint64_t period = reload_ < 2 ? 2 : reload_;
            return e % period < (period + 1) / 2;
        }
        case 4: return e != reload_;
        default: return !triggered_ || e != reload_;  // 5
    }
}

std::uint8_t PitChannel2::status() const
{
    const auto access = static_cast<std::uint8_t>(access_);
    return static_cast<std::uint8_t>((out() ? kStatusOut : 0) | (loaded_ ? 0 : kStatusNullCount) |
                                     (access << kAccessShift) | (mode_ << 1) | (bcd_ ? 1 : 0));
}

void PitChannel2::start()
{
    loaded_ = true;
    start_tick_ = ticks_now();
    frozen_.reset();
    triggered_ = false;
    if ((port_b_ & kGate) == 0 && pauses_on_low_gate(mode_)) {
        frozen_ = 0;  // counts once the gate goes high
    }
}

void PitChannel2::set_gate(bool high)
{
    const bool was_high = (port_b_ & kGate) != 0;
    port_b_ = static_cast<std::uint8_t>(high ? port_b_ | kGate : port_b_ & ~kGate);
    if (high == was_high || !loaded_) {
        return;
    }
    if (gate_triggered(mode_) || periodic(mode_)) {
        if (high) {  // a rising edge (re)starts the count
            start();
            triggered_ = gate_triggered(mode_);
        } else if (periodic(mode_)) {
            frozen_ = 0;  // stopped, OUT high, reloaded on the next rising edge
        }
        return;
    }
    if (!high) {  // modes 0 and 4: counting pauses
        frozen_ = ticks_now() - start_tick_;
    } else if (frozen_) {
        start_tick_ = ticks_now() - *frozen_;
        frozen_.reset();
    }
}

void PitChannel2::write_control(std::uint8_t value)
{
    const unsigned select = value >> kSelectShift;
    if (select == kSelectReadBack) {
        if ((value & kReadBackChannel2) == 0) {
            ++ignored_accesses_;  // only for channels 0 and 1
            return;
        }
        if ((value & kReadBackNoCount) == 0 && !latched_count_) {
            latched_count_ = count();
            latched_msb_next_ = false;
        }
        if ((value & kReadBackNoStatus) == 0 && !latched_status_) {
            latched_status_ = status();
        }
        return;
    }
    if (select != kSelectChannel2) {
        ++ignored_accesses_;
        return;
    }
    const auto access = static_cast<Access>((value >> kAccessShift) & 3);
    if (access == Access::latch) {
        if (!latched_count_) {  // a second latch before the read is ignored
            latched_count_ = count();
            latched_msb_next_ = false;
        }
        return;
    }
    access_ = access;
    const std::uint8_t mode = (value >> 1) & 7;
    mode_ = mode > 5 ? mode - 4 : mode;  // 6 and 7 are 2 and 3
    bcd_ = (value & 1) != 0;
    loaded_ = false;
    waiting_for_msb_ = false;
    read_msb_next_ = false;
    latched_count_.reset();
    latched_status_.reset();
    frozen_.reset();
    triggered_ = false;
}

void PitChannel2::write_counter(std::uint8_t value)
{
    const auto load = [this](std::uint32_t count) {
        reload_ = count == 0 ? kFullCount : count;
        start();
    };
    switch (access_) {
        case Access::lsb: load(value); break;
        case Access::msb: load(std::uint32_t{value} << 8); break;
        case Access::word:
        case Access::latch:
            if (!waiting_for_msb_) {
                pending_lsb_ = value;
                waiting_for_msb_ = true;
                if (mode_ == 0) {
                    loaded_ = false;  // the first byte stops the count, OUT low
                }
            } else {
                waiting_for_msb_ = false;
                load(pending_lsb_ | (std::uint32_t{value} << 8));
            }
            break;
    }
}

std::uint8_t PitChannel2::read_counter()
{
    if (latched_status_) {
        return *std::exchange(latched_status_, std::nullopt);
    }
    const bool latched = latched_count_.has_value();
    const std::uint16_t value = latched ? *latched_count_ : count();
    bool msb = access_ == Access::msb;
    if (access_ == Access::word || access_ == Access::latch) {
        bool& next = latched ? latched_msb_next_ : read_msb_next_;
        msb = next;
        next = !next;
    }
    if (latched && (access_ != Access::word || msb)) {
        latched_count_.reset();  // read completely
    }
    return static_cast<std::uint8_t>(msb ? value >> 8 : value & 0xFF);
}

std::uint32_t PitChannel2::port_read(std::uint16_t port, std::uint32_t width)
{
    if (width != 1) {
        ++ignored_accesses_;
        return static_cast<std::uint32_t>(all_ones(width));
    }
    switch (port) {
        case kCounterPort: return read_counter();
        case kPortB: {
            const bool refresh = (now_ns_() / kRefreshPeriodNs) % 2 != 0;
            return port_b_ | (refresh ? kRefresh : 0) | (out() ? kOut2 : 0);
        }
        default: ++ignored_accesses_; return 0xFF;  // 0x43 is write-only
    }
}

void PitChannel2::port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value)
{
    if (width != 1) {
        ++ignored_accesses_;
        return;
    }
    const auto byte = static_cast<std::uint8_t>(value);
    switch (port) {
        case kCounterPort: write_counter(byte); break;
        case kControlPort: write_control(byte); break;
        case kPortB:
            set_gate((byte & kGate) != 0);
            port_b_ =
                static_cast<std::uint8_t>((port_b_ & kGate) | (byte & kPortBWritable & ~kGate));
            break;
        default: ++ignored_accesses_; break;
    }
}

}  // namespace boxy::vm
