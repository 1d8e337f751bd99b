// SPDX-License-Identifier: MIT
#include "ioapic.hpp"

namespace boxy::vm {
namespace {

constexpr std::uint32_t kRegisterWidth = 4;
constexpr std::uint32_t kIdShift = 24;  // 3.2.1: ID in bits 27:24
constexpr std::uint32_t kIdMask = 0xF;
constexpr std::uint8_t kBroadcast = 0xFF;
constexpr std::uint8_t kFirstValidVector = 16;  // 0-15 are exceptions; the ABI refuses them
constexpr std::uint64_t kAllOnes32 = 0xFFFF'FFFF;

}  // namespace

IoApic::IoApic(InterruptSink& sink, std::uint32_t vcpu_count, std::uint8_t id)
    : sink_{&sink}, vcpu_count_{vcpu_count}, id_{id & kIdMask}
{
}

std::uint64_t IoApic::mmio_read(std::uint64_t offset, std::uint32_t width)
{
    // 3.1: software accesses the registers with 32-bit loads and stores.
    if (width != kRegisterWidth) {
        ++stats_.bad_access;
        return kAllOnes32;
    }
    switch (offset) {
        case kRegisterSelect: return select_;
        case kWindow: return read_register(select_);
        default: ++stats_.bad_access; return kAllOnes32;  // EOI is write-only
    }
}

void IoApic::mmio_write(std::uint64_t offset, std::uint32_t width, std::uint64_t value)
{
    if (width != kRegisterWidth) {
        ++stats_.bad_access;
        return;
    }
    const auto value32 = static_cast<std::uint32_t>(value);
    switch (offset) {
        case kRegisterSelect: select_ = static_cast<std::uint8_t>(value32); return;
        case kWindow: write_register(select_, value32); return;
        case kEoi: end_of_interrupt(static_cast<std::uint8_t>(value32)); return;
        default: ++stats_.bad_access; return;
    }
}

std::uint32_t IoApic::read_register(std::uint8_t index)
{
    if (index == kIdIndex) {
        return id_ << kIdShift;
    }
    if (index == kVersionIndex) {
        return kVersion;
    }
    if (index == kArbitrationIndex) {
        return id_ << kIdShift;  // 3.2.3: the arbitration ID; reset value = the ID
    }
    if (index >= kRedirectionIndex && index < kRedirectionIndex + 2 * kPins) {
        const std::uint32_t pin = (index - kRedirectionIndex) / 2;
        const std::uint64_t raw = entries_[pin].raw();
        return static_cast<std::uint32_t>((index % 2 == 0) ? raw : raw >> 32);
    }
    ++stats_.bad_access;
    return 0;
}

void IoApic::write_register(std::uint8_t index, std::uint32_t value)
{
    if (index == kIdIndex) {
        id_ = (value >> kIdShift) & kIdMask;
        return;
    }
    if (index >= kRedirectionIndex && index < kRedirectionIndex + 2 * kPins) {
        const std::uint32_t pin = (index - kRedirectionIndex) / 2;
        const std::uint64_t raw = entries_[pin].raw();
        const std::uint64_t written = (index % 2 == 0)
                                          ? (raw & ~kAllOnes32) | value
                                          : (raw & kAllOnes32) | (std::uint64_t{value} << 32);
        write_entry(pin, written);
        return;
    }
    ++stats_.bad_access;  // version and arbitration are read-only
}

void IoApic::write_entry(std::uint32_t pin, std::uint64_t written)
{
    const RedirectionEntry old = entries_[pin];
    // Delivery status and remote IRR are the I/O APIC's; a guest writing
    // back what it read changes neither.
    RedirectionEntry entry{(written & RedirectionEntry::kWritable) |
                           (old.raw() & ~RedirectionEntry::kWritable)};
    // Remote IRR is "undefined for edge-triggered interrupts" (3.2.4); KVM
    // and QEMU clear it when a pin turns edge, so that a stale bit never
    // blocks the pin once it is level again.
    if (!entry.level_triggered()) {
        entry.set_remote_irr(false);
    }
    entries_[pin] = entry;
    service_level(pin);  // e.g. unmasked while asserted
}

void IoApic::set_level(std::uint32_t pin, bool asserted)
{
    if (pin >= kPins) {
        ++stats_.bad_pin;
        return;
    }
    const bool was_asserted = levels_[pin];
    levels_[pin] = asserted;
    const RedirectionEntry entry = entries_[pin];
    if (entry.level_triggered()) {
        service_level(pin);  // a masked level pin is delivered once unmasked
        return;
    }
    if (!asserted || was_asserted) {
        return;  // edge-triggered: only a rising edge interrupts
    }
    if (entry.masked()) {
        ++stats_.lost_while_masked;
        return;
    }
    (void)deliver(entry);
}

void IoApic::end_of_interrupt(std::uint8_t vector)
{
    // The local APIC broadcasts the EOI to every I/O APIC with the vector
    // only (Intel SDM Vol. 3, 11.8.5): every level pin with that vector in
    // service takes it.
    for (std::uint32_t pin = 0; pin < kPins; ++pin) {
        RedirectionEntry& entry = entries_[pin];
        if (entry.level_triggered() && entry.remote_irr() && entry.vector() == vector) {
            entry.set_remote_irr(false);
            service_level(pin);
        }
    }
}

void IoApic::service_level(std::uint32_t pin)
{
    RedirectionEntry& entry = entries_[pin];
    if (!entry.level_triggered() || !levels_[pin] || entry.masked() || entry.remote_irr()) {
        return;
    }
    // Remote IRR first, so that the EOI of a fast guest finds it set.
    entry.set_remote_irr(true);
    if (!deliver(entry)) {
        // Nothing is in service, so no EOI will come: a later change of the
        // entry or the line retries.
        entry.set_remote_irr(false);
    }
}

bool IoApic::deliver(RedirectionEntry entry)
{
    using Mode = RedirectionEntry::DeliveryMode;
    const auto mode = static_cast<Mode>(entry.delivery_mode());
    if (mode != Mode::fixed && mode != Mode::lowest_priority) {
        ++stats_.unsupported_delivery;
        return false;
    }
    if (entry.vector() < kFirstValidVector) {
        ++stats_.bad_vector;
        return false;
    }
    // The set of vCPUs the destination names (bit i: vCPU i).
    std::uint32_t targets = 0;
    const std::uint32_t all = vcpu_count_ >= 32 ? ~0U : (1U << vcpu_count_) - 1;
    const std::uint8_t destination = entry.destination();
    if (destination == kBroadcast) {
        targets = all;
    } else if (entry.logical()) {
        targets = destination & all;
    } else if (destination < vcpu_count_) {
        targets = 1U << destination;
    }
    if (targets == 0) {
        ++stats_.no_destination;
        return false;
    }
    if (mode == Mode::lowest_priority) {
        targets &= ~targets + 1;  // the lowest set bit: the first vCPU named
    }
    bool any = false;
    for (std::uint32_t vcpu = 0; vcpu < vcpu_count_ && vcpu < 32; ++vcpu) {
        if ((targets & (1U << vcpu)) == 0) {
            continue;
        }
        if (sink_->inject(vcpu, entry.vector(), entry.level_triggered())) {
            ++stats_.delivered;
            any = true;
        } else {
            ++stats_.inject_failures;
        }
    }
    return any;
}

}  // namespace boxy::vm
