// SPDX-License-Identifier: MIT
#include "vm/lapic.hpp"

#include <bit>
#include <cstddef>

namespace boxy::vmm {
namespace {

// IA32_APIC_BASE (11.4.4, Figure 11-5): BSP in bit 8, EXTD in 10, EN in 11,
// the base in 12..MAXPHYADDR-1; the rest is reserved.
constexpr std::uint64_t kBaseBsp = 1U << 8;
constexpr std::uint64_t kBaseExtd = 1U << 10;
constexpr std::uint64_t kBaseEnable = 1U << 11;
constexpr std::uint64_t kPageOffset = 0xFFF;
constexpr std::uint64_t kDefaultBase = 0xFEE0'0000;
constexpr unsigned kMinAddressBits = 32;
constexpr unsigned kMaxAddressBits = 52;

// Version register (11.4.8): an integrated APIC (15H), max LVT entry 6 (the
// seven of Table 11-6, CMCI included), bit 24 (EOI-broadcast suppression) 0.
constexpr std::uint32_t kVersionValue = 0x15 | (6U << 16);

// Spurious-interrupt vector register (11.9): vector in 7:0, APIC software
// enable in 8, focus processor checking in 9 (kept, meaningless here); bit
// 12 would need EOI-broadcast suppression, which is not offered.
constexpr std::uint32_t kSvrEnable = 1U << 8;
constexpr std::uint32_t kSvrWritable = 0x3FF;
constexpr std::uint32_t kSvrReset = 0xFF;  // 11.4.7.1

// LVT entries (11.5.1): vector 7:0, delivery mode 10:8, delivery status 12
// (read-only), pin polarity 13, remote IRR 14 (read-only), trigger mode 15,
// mask 16, timer mode 18:17. Which fields exist depends on the entry.
constexpr std::uint32_t kLvtVector = 0xFF;
constexpr std::uint32_t kLvtDeliveryMode = 7U << 8;
constexpr std::uint32_t kLvtDeliveryStatus = 1U << 12;
constexpr std::uint32_t kLvtPolarity = 1U << 13;
constexpr std::uint32_t kLvtRemoteIrr = 1U << 14;
constexpr std::uint32_t kLvtLevelTrigger = 1U << 15;
constexpr std::uint32_t kLvtMasked = 1U << 16;
constexpr std::uint32_t kLvtTimerMode = 3U << 17;
constexpr std::uint32_t kLvtReadOnly = kLvtDeliveryStatus | kLvtRemoteIrr;
// Timer modes (11.5.4.1, Table 11-2); 11b is reserved.
constexpr unsigned kTimerModeShift = 17;

// Writable bits per entry, in the order of the Lvt enum.
constexpr std::array<std::uint32_t, 7> kLvtWritable{
    kLvtVector | kLvtDeliveryMode | kLvtMasked,                                    // CMCI
    kLvtVector | kLvtMasked | kLvtTimerMode,                                       // timer
    kLvtVector | kLvtDeliveryMode | kLvtMasked,                                    // thermal
    kLvtVector | kLvtDeliveryMode | kLvtMasked,                                    // performance
    kLvtVector | kLvtDeliveryMode | kLvtPolarity | kLvtLevelTrigger | kLvtMasked,  // LINT0
    kLvtVector | kLvtDeliveryMode | kLvtPolarity | kLvtLevelTrigger | kLvtMasked,  // LINT1
    kLvtVector | kLvtMasked,                                                       // error
};

// Error status register (11.5.3).
constexpr std::uint32_t kEsrSendIllegalVector = 1U << 5;
constexpr std::uint32_t kEsrReceiveIllegalVector = 1U << 6;

// Divide configuration register (11.5.4, Figure 11-10): bits 0, 1 and 3.
constexpr std::uint32_t kDivideWritable = 0xB;

constexpr std::uint64_t kLow32 = 0xFFFF'FFFF;
constexpr unsigned kFirstLegalVector = 16;  // 11.5.2

// A TPR, ISR or IRR vector's priority class (11.8.3).
constexpr std::uint32_t priority_class(std::uint32_t value)
{
    return value & 0xF0;
}

std::uint64_t apic_base_reserved_bits(unsigned physical_address_bits)
{
    const unsigned bits = physical_address_bits < kMinAddressBits   ? kMinAddressBits
                          : physical_address_bits > kMaxAddressBits ? kMaxAddressBits
                                                                    : physical_address_bits;
    const std::uint64_t address = ((std::uint64_t{1} << bits) - 1) & ~kPageOffset;
    return ~(kBaseBsp | kBaseExtd | kBaseEnable | address);
}

[[nodiscard]] Unexpected<LapicFault> general_protection()
{
    return make_error(LapicFault::general_protection);
}

}  // namespace

std::optional<std::uint8_t> VectorBitmap::highest() const
{
    for (std::size_t word = words_.size(); word-- > 0;) {
        if (words_[word] != 0) {
            const auto top = 63U - static_cast<unsigned>(std::countl_zero(words_[word]));
            return static_cast<std::uint8_t>(word * 64 + top);
        }
    }
    return std::nullopt;
}

std::uint32_t VectorBitmap::chunk(unsigned index) const
{
    return static_cast<std::uint32_t>(words_[index / 2] >> (32 * (index % 2)));
}

Lapic::Lapic(const LapicConfig& config)
    : id_{config.x2apic_id},
      apic_base_reserved_{apic_base_reserved_bits(config.physical_address_bits)},
      apic_base_{kDefaultBase | kBaseEnable | kBaseExtd |
                 (config.bootstrap_processor ? kBaseBsp : 0)},
      timer_{config.tsc_per_bus_tick}
{
    reset_registers();
}

// The power-up values of 11.4.7.1 / 11.12.5.1: zeros, LVTs masked, SVR FFH
// (software-disabled). The ID and the LDR derived from it do not change.
void Lapic::reset_registers()
{
    tpr_ = 0;
    svr_ = kSvrReset;
    esr_ = 0;
    pending_errors_ = 0;
    icr_ = 0;
    lvt_.fill(kLvtMasked);
    irr_ = {};
    isr_ = {};
    tmr_ = {};
    timer_.reset();
}

void Lapic::init_reset()
{
    reset_registers();
}

bool Lapic::software_enabled() const
{
    return mode_ != LapicMode::disabled && (svr_ & kSvrEnable) != 0;
}

Result<std::uint64_t, LapicFault> Lapic::read_msr(std::uint32_t msr) const
{
    if (msr == lapic_msr::kApicBase) {
        return apic_base_;
    }
    if (msr == lapic_msr::kTscDeadline) {
        return tsc_deadline();
    }
    // The x2APIC registers exist only in x2APIC mode (11.12.2).
    if (mode_ != LapicMode::x2apic || !handles_msr(msr)) {
        return general_protection();
    }
    return read_x2apic(msr);
}

// Table 11-6: read-only registers, write-only ones (#GP on read) and the
// addresses without a register in x2APIC mode (#GP both ways).
Result<std::uint64_t, LapicFault> Lapic::read_x2apic(std::uint32_t msr) const
{
    using namespace lapic_msr;
    if (msr >= kIsr0 && msr < kIsr0 + 8) {
        return isr_.chunk(msr - kIsr0);
    }
    if (msr >= kTmr0 && msr < kTmr0 + 8) {
        return tmr_.chunk(msr - kTmr0);
    }
    if (msr >= kIrr0 && msr < kIrr0 + 8) {
        return irr_.chunk(msr - kIrr0);
    }
    switch (msr) {
        case kId: return id_;
        case kVersion: return kVersionValue;
        case kTpr: return tpr_;
        case kPpr: return ppr();
        case kLdr: return logical_x2apic_id(id_);
        case kSvr: return svr_;
        case kEsr: return esr_;
        case kIcr: return icr_;
        case kLvtCmci: return lvt_[cmci];
        case kLvtTimer: return lvt_[timer];
        case kLvtThermal: return lvt_[thermal];
        case kLvtPerformance: return lvt_[performance];
        case kLvtLint0: return lvt_[lint0];
        case kLvtLint1: return lvt_[lint1];
        case kLvtError: return lvt_[error];
        case kInitialCount: return timer_.initial_count();
        case kCurrentCount: return timer_.current_count(timer_mode(), now_);
        case kDivideConfig: return timer_.divide_config();
        default: return general_protection();  // EOI, SELF IPI, reserved
    }
}

Result<MsrWriteEffect, LapicFault> Lapic::write_msr(std::uint32_t msr, std::uint64_t value)
{
    if (msr == lapic_msr::kApicBase) {
        BOXY_TRY(write_apic_base(value));
        return MsrWriteEffect{};
    }
    if (msr == lapic_msr::kTscDeadline) {
        set_tsc_deadline(value);
        return MsrWriteEffect{};
    }
    if (mode_ != LapicMode::x2apic || !handles_msr(msr)) {
        return general_protection();
    }
    // All registers but the ICR are 32 bits wide; bits 63:32 are reserved
    // (11.12.1.2) and non-zero reserved bits fault (11.12.1.3).
    if (msr != lapic_msr::kIcr && (value >> 32) != 0) {
        return general_protection();
    }
    return write_x2apic(msr, value);
}

Result<MsrWriteEffect, LapicFault> Lapic::write_x2apic(std::uint32_t msr, std::uint64_t value)
{
    using namespace lapic_msr;
    const auto low = static_cast<std::uint32_t>(value & kLow32);
    MsrWriteEffect effect;
    switch (msr) {
        case kTpr:
            if (low > 0xFF) {  // bits 31:8 reserved
                return general_protection();
            }
            tpr_ = static_cast<std::uint8_t>(low);
            break;
        case kEoi:
            if (low != 0) {  // Table 11-6: a non-zero write faults
                return general_protection();
            }
            effect.level_eoi = end_of_interrupt();
            break;
        case kSvr: BOXY_TRY(write_svr(low)); break;
        case kEsr:
            // Only 0 may be written in x2APIC mode; the write latches the
            // errors since the last one and re-arms the error interrupt
            // (11.5.3).
            if (low != 0) {
                return general_protection();
            }
            esr_ = pending_errors_;
            pending_errors_ = 0;
            break;
        case kIcr: {
            if ((value & kIcrReserved) != 0) {
                return general_protection();
            }
            icr_ = value;
            const IcrDecode decoded = decode_icr(value, id_);
            if (decoded.illegal_vector) {
                record_error(kEsrSendIllegalVector);
            }
            effect.ipi = decoded.ipi;
            break;
        }
        case kLvtCmci: BOXY_TRY(write_lvt(cmci, low)); break;
        case kLvtTimer: BOXY_TRY(write_lvt(timer, low)); break;
        case kLvtThermal: BOXY_TRY(write_lvt(thermal, low)); break;
        case kLvtPerformance: BOXY_TRY(write_lvt(performance, low)); break;
        case kLvtLint0: BOXY_TRY(write_lvt(lint0, low)); break;
        case kLvtLint1: BOXY_TRY(write_lvt(lint1, low)); break;
        case kLvtError: BOXY_TRY(write_lvt(error, low)); break;
        case kInitialCount:
            // Ignored in TSC-deadline mode (11.5.4.1).
            if (timer_mode() != TimerMode::tsc_deadline) {
                timer_.start(low, now_);
            }
            break;
        case kDivideConfig:
            if ((low & ~kDivideWritable) != 0) {
                return general_protection();
            }
            timer_.set_divide_config(low);
            break;
        case kSelfIpi:
            // A self-targeted, edge-triggered fixed IPI (11.12.11), delivered
            // here rather than through the VMM: bits 31:8 are reserved.
            if (low > 0xFF) {
                return general_protection();
            }
            if (low < kFirstLegalVector) {
                record_error(kEsrSendIllegalVector);
            } else {
                accept(static_cast<std::uint8_t>(low), false);
            }
            break;
        default: return general_protection();  // read-only or reserved
    }
    return effect;
}

// 11.12.5: x2APIC -> xAPIC and disabled -> x2APIC are invalid transitions,
// EN=0 with EXTD=1 is an invalid state.
Result<void, LapicFault> Lapic::write_apic_base(std::uint64_t value)
{
    if ((value & apic_base_reserved_) != 0) {
        return general_protection();
    }
    const bool enable = (value & kBaseEnable) != 0;
    const bool extended = (value & kBaseExtd) != 0;
    if (!enable && extended) {
        return general_protection();
    }
    const LapicMode next =
        !enable ? LapicMode::disabled : (extended ? LapicMode::x2apic : LapicMode::xapic);
    if ((mode_ == LapicMode::x2apic && next == LapicMode::xapic) ||
        (mode_ == LapicMode::disabled && next == LapicMode::x2apic)) {
        return general_protection();
    }
    // A global disable may lose all state (11.4.3): drop it, so that nothing
    // pending survives into a later enable.
    if (next == LapicMode::disabled && mode_ != LapicMode::disabled) {
        reset_registers();
    }
    mode_ = next;
    apic_base_ = value;
    return {};
}

Result<void, LapicFault> Lapic::write_svr(std::uint32_t value)
{
    if ((value & ~kSvrWritable) != 0) {
        return general_protection();
    }
    svr_ = value;
    // Software disable masks every LVT entry (11.4.7.2).
    if ((value & kSvrEnable) == 0) {
        for (auto& entry : lvt_) {
            entry |= kLvtMasked;
        }
    }
    return {};
}

Result<void, LapicFault> Lapic::write_lvt(Lvt index, std::uint32_t value)
{
    value &= ~kLvtReadOnly;  // delivery status and remote IRR: writes ignored
    if ((value & ~kLvtWritable[index]) != 0) {
        return general_protection();
    }
    if (index == timer) {
        if ((value & kLvtTimerMode) == kLvtTimerMode) {  // 11b: reserved mode
            return general_protection();
        }
        // Changing the timer mode disarms the timer (11.5.4.1).
        if ((value & kLvtTimerMode) != (lvt_[timer] & kLvtTimerMode)) {
            timer_.disarm();
        }
    }
    // While software-disabled the mask bits cannot be cleared (11.4.7.2).
    if (!software_enabled()) {
        value |= kLvtMasked;
    }
    lvt_[index] = value;
    return {};
}

std::uint8_t Lapic::ppr() const
{
    // PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0 (11.8.3.1).
    const std::uint32_t isrv = isr_.highest().value_or(0);
    return static_cast<std::uint8_t>(
        priority_class(tpr_) >= priority_class(isrv) ? tpr_ : priority_class(isrv));
}

void Lapic::record_error(std::uint32_t esr_bit)
{
    // One error interrupt per new error until software re-arms it by
    // writing the ESR (11.5.3).
    if ((pending_errors_ & esr_bit) != 0) {
        return;
    }
    pending_errors_ |= esr_bit;
    deliver_local(lvt_[error]);
}

// A local source (timer, error) fires through its LVT entry (11.5.1).
void Lapic::deliver_local(std::uint32_t lvt_entry)
{
    if ((lvt_entry & kLvtMasked) != 0) {
        return;
    }
    accept(static_cast<std::uint8_t>(lvt_entry & kLvtVector), false);
}

bool Lapic::accept(std::uint8_t vector, bool level_triggered)
{
    if (!software_enabled()) {
        return false;  // not even IRR is set (11.4.7.2)
    }
    if (vector < kFirstLegalVector) {
        record_error(kEsrReceiveIllegalVector);
        return false;
    }
    // The TMR records the trigger mode at acceptance (11.8.4).
    irr_.set(vector);
    if (level_triggered) {
        tmr_.set(vector);
    } else {
        tmr_.clear(vector);
    }
    return true;
}

std::optional<std::uint8_t> Lapic::pending() const
{
    const auto vector = irr_.highest();
    if (!vector || priority_class(*vector) <= priority_class(ppr())) {
        return std::nullopt;
    }
    return vector;
}

bool Lapic::acknowledge(std::uint8_t vector)
{
    if (!irr_.test(vector)) {
        return false;
    }
    irr_.clear(vector);
    isr_.set(vector);
    return true;
}

// EOI ends the highest-priority interrupt in service; a level-triggered one
// is reported for the I/O APIC (11.8.5).
std::optional<std::uint8_t> Lapic::end_of_interrupt()
{
    const auto vector = isr_.highest();
    if (!vector) {
        return std::nullopt;
    }
    isr_.clear(*vector);
    if (tmr_.test(*vector)) {
        return vector;
    }
    return std::nullopt;
}

TimerMode Lapic::timer_mode() const
{
    return static_cast<TimerMode>((lvt_[timer] & kLvtTimerMode) >> kTimerModeShift);
}

std::uint64_t Lapic::tsc_deadline() const
{
    return timer_mode() == TimerMode::tsc_deadline ? timer_.deadline() : 0;
}

void Lapic::set_tsc_deadline(std::uint64_t deadline)
{
    if (timer_mode() != TimerMode::tsc_deadline) {
        return;
    }
    timer_.set_deadline(deadline);
    run_timer();  // a deadline already passed fires at once
}

std::optional<std::uint64_t> Lapic::next_deadline() const
{
    if ((lvt_[timer] & kLvtMasked) != 0) {
        return std::nullopt;
    }
    return timer_.expiry();
}

void Lapic::advance(std::uint64_t now_tsc)
{
    if (now_tsc > now_) {
        now_ = now_tsc;
    }
    run_timer();
}

// An expiry raises the interrupt unless the LVT entry is masked; either way
// it disarms or reloads the timer (lapic_timer.hpp), and a TSC-deadline
// expiry clears IA32_TSC_DEADLINE (11.5.4.1).
void Lapic::run_timer()
{
    if (timer_.expire(timer_mode(), now_)) {
        deliver_local(lvt_[timer]);
    }
}

}  // namespace boxy::vmm
