// SPDX-License-Identifier: MIT
//
// The local APIC of one service-VM vCPU, emulated in x2APIC mode (design.md,
// "Service VMs": the VMM emulates the local APIC with a TSC-deadline timer;
// the I/O APIC lives in the per-VM host process).
//
// Pure logic: no clock, no other vCPUs. The VMM feeds it
//   - the guest's accesses to IA32_APIC_BASE (1BH), IA32_TSC_DEADLINE (6E0H)
//     and the x2APIC MSRs 800H-8FFH (read_msr()/write_msr()); a fault means
//     the VMM injects #GP(0) and does not advance RIP;
//   - interrupts for this vCPU (accept()), from IPIs the VMM routed, from the
//     host's I/O APIC model and MSIs;
//   - the time: advance(now) with the guest's TSC. The model's notion of
//     "now" is the last advance(): call it before emulating an exit that
//     touches the APIC or decides an injection, so that the current-count
//     register and deadlines in the past behave as on hardware.
// and asks it what to do: pending()/acknowledge() for injection (RFLAGS.IF
// and interrupt shadows are the caller's business), next_deadline() for how
// long a halted vCPU may sleep, and the MsrWriteEffect of a write: an IPI to
// route to other vCPUs, or the EOI of a level-triggered vector to forward to
// the I/O APIC model.
//
// The ICR decoding (lapic_icr.hpp) and the timer's counting
// (lapic_timer.hpp) live in their own files.
//
// Section numbers are those of the Intel SDM Vol. 3A editions with the APIC
// in chapter 11, "Advanced Programmable Interrupt Controller (APIC)"
// (chapter 10 in older editions).
//
// Not modelled: xAPIC MMIO (a guest that switches to xAPIC mode gets #GP on
// the x2APIC MSRs, as on hardware, and mode() tells the VMM), NMI/SMI/INIT/
// ExtINT sources on LINT0/LINT1, thermal, performance and CMCI interrupt
// sources (their LVT registers only hold what the guest writes), EOI-broadcast
// suppression (not advertised in the version register), and a divide-
// configuration change while the one-shot/periodic timer counts (it takes
// effect at the next initial-count write).
#pragma once

#include "vm/lapic_icr.hpp"
#include "vm/lapic_timer.hpp"

#include <boxy/result.hpp>

#include <array>
#include <cstdint>
#include <optional>

namespace boxy::vmm {

// MSR numbers (SDM Vol. 3A, 11.12.1.2, Table 11-6 "Local APIC Register
// Address Map Supported by x2APIC"; Vol. 4 for 1BH and 6E0H).
namespace lapic_msr {
inline constexpr std::uint32_t kApicBase = 0x1B;
inline constexpr std::uint32_t kTscDeadline = 0x6E0;
inline constexpr std::uint32_t kFirst = 0x800;  // the x2APIC range the model owns
inline constexpr std::uint32_t kLast = 0x8FF;
inline constexpr std::uint32_t kId = 0x802;
inline constexpr std::uint32_t kVersion = 0x803;
inline constexpr std::uint32_t kTpr = 0x808;
inline constexpr std::uint32_t kPpr = 0x80A;
inline constexpr std::uint32_t kEoi = 0x80B;
inline constexpr std::uint32_t kLdr = 0x80D;
inline constexpr std::uint32_t kSvr = 0x80F;
inline constexpr std::uint32_t kIsr0 = 0x810;  // ISR bits 31:0 ... 817H: bits 255:224
inline constexpr std::uint32_t kTmr0 = 0x818;
inline constexpr std::uint32_t kIrr0 = 0x820;
inline constexpr std::uint32_t kEsr = 0x828;
inline constexpr std::uint32_t kLvtCmci = 0x82F;
inline constexpr std::uint32_t kIcr = 0x830;
inline constexpr std::uint32_t kLvtTimer = 0x832;
inline constexpr std::uint32_t kLvtThermal = 0x833;
inline constexpr std::uint32_t kLvtPerformance = 0x834;
inline constexpr std::uint32_t kLvtLint0 = 0x835;
inline constexpr std::uint32_t kLvtLint1 = 0x836;
inline constexpr std::uint32_t kLvtError = 0x837;
inline constexpr std::uint32_t kInitialCount = 0x838;
inline constexpr std::uint32_t kCurrentCount = 0x839;
inline constexpr std::uint32_t kDivideConfig = 0x83E;
inline constexpr std::uint32_t kSelfIpi = 0x83F;
}  // namespace lapic_msr

// Everything the guest can do wrong raises #GP(0) (11.12.1.2, 11.12.1.3).
enum class LapicFault : std::uint8_t {
    general_protection,
};

// IA32_APIC_BASE EN/EXTD (11.12.5 "x2APIC State Transitions").
enum class LapicMode : std::uint8_t {
    disabled,  // EN=0, EXTD=0
    xapic,     // EN=1, EXTD=0: MMIO interface, which Boxy does not emulate
    x2apic,    // EN=1, EXTD=1: the reset state of a Boxy vCPU
};

// What a successful MSR write asks of the VMM besides the state change.
struct MsrWriteEffect {
    std::optional<IpiRequest> ipi{};          // an ICR write that sends an IPI
    std::optional<std::uint8_t> level_eoi{};  // EOI of a level-triggered vector (11.8.5)
};

struct LapicConfig {
    std::uint32_t x2apic_id{0};
    bool bootstrap_processor{false};     // IA32_APIC_BASE.BSP
    unsigned physical_address_bits{46};  // guest MAXPHYADDR (32-52): bounds IA32_APIC_BASE
    // TSC ticks per APIC timer (bus) clock, before the divider. 0: the
    // one-shot and periodic modes are not supported; their count registers
    // hold what the guest writes, the current count reads 0 and nothing
    // fires. TSC-deadline mode works either way.
    std::uint32_t tsc_per_bus_tick{0};
};

// The 256-bit IRR/ISR/TMR.
class VectorBitmap {
public:
    constexpr void set(std::uint8_t vector) { words_[vector / 64] |= bit(vector); }
    constexpr void clear(std::uint8_t vector) { words_[vector / 64] &= ~bit(vector); }
    [[nodiscard]] constexpr bool test(std::uint8_t vector) const
    {
        return (words_[vector / 64] & bit(vector)) != 0;
    }
    [[nodiscard]] std::optional<std::uint8_t> highest() const;
    // Bits 32*index+31:32*index, as the x2APIC MSRs show them (index 0-7).
    [[nodiscard]] std::uint32_t chunk(unsigned index) const;

private:
    static constexpr std::uint64_t bit(std::uint8_t vector)
    {
        return std::uint64_t{1} << (vector % 64);
    }
    std::array<std::uint64_t, 4> words_{};
};

class Lapic {
public:
    explicit Lapic(const LapicConfig& config);

    // Whether read_msr()/write_msr() handle this MSR: 1BH, 6E0H, 800H-8FFH.
    [[nodiscard]] static constexpr bool handles_msr(std::uint32_t msr)
    {
        return msr == lapic_msr::kApicBase || msr == lapic_msr::kTscDeadline ||
               (msr >= lapic_msr::kFirst && msr <= lapic_msr::kLast);
    }

    [[nodiscard]] Result<std::uint64_t, LapicFault> read_msr(std::uint32_t msr) const;
    [[nodiscard]] Result<MsrWriteEffect, LapicFault> write_msr(std::uint32_t msr,
                                                               std::uint64_t value);

    // IA32_TSC_DEADLINE (11.5.4.1): reads 0 and ignores writes unless the
    // LVT timer is in TSC-deadline mode; 0 disarms; a deadline at or before
    // now fires at once.
    [[nodiscard]] std::uint64_t tsc_deadline() const;
    void set_tsc_deadline(std::uint64_t deadline);

    // TPR, also as CR8 bits 3:0 = TPR[7:4] (11.8.6).
    [[nodiscard]] std::uint8_t tpr() const { return tpr_; }
    void set_tpr(std::uint8_t tpr) { tpr_ = tpr; }
    [[nodiscard]] std::uint8_t ppr() const;

    // A fixed interrupt arrives (11.8.4): sets IRR, and TMR for level-
    // triggered ones. Vectors 0-15 are illegal (11.5.2): ESR "receive
    // illegal vector", nothing delivered. Dropped (false) while the APIC is
    // disabled or software-disabled (11.4.7.2).
    bool accept(std::uint8_t vector, bool level_triggered);

    // The highest IRR vector whose priority class is above PPR (11.8.3.1).
    [[nodiscard]] std::optional<std::uint8_t> pending() const;
    // The vCPU took `vector` (injection): IRR -> ISR. False if not requested.
    bool acknowledge(std::uint8_t vector);
    // Whether HLT ends at once (an interrupt pending() reports); with
    // RFLAGS.IF clear the caller knows better. Call advance() first.
    [[nodiscard]] bool has_pending_for_halt() const { return pending().has_value(); }

    // The TSC at which the timer next raises an interrupt; none if disarmed
    // or masked (a masked expiry only updates state, on the next advance()).
    [[nodiscard]] std::optional<std::uint64_t> next_deadline() const;
    // It is now TSC `now` (never moves back): fires what expired.
    void advance(std::uint64_t now_tsc);

    // INIT (11.4.7.3, 11.12.5): every register to its reset value except
    // the ID and IA32_APIC_BASE; the mode stays.
    void init_reset();

    [[nodiscard]] LapicMode mode() const { return mode_; }
    [[nodiscard]] std::uint32_t x2apic_id() const { return id_; }
    [[nodiscard]] bool software_enabled() const;

private:
    enum Lvt : unsigned { cmci, timer, thermal, performance, lint0, lint1, error, lvt_count };

    [[nodiscard]] Result<std::uint64_t, LapicFault> read_x2apic(std::uint32_t msr) const;
    [[nodiscard]] Result<MsrWriteEffect, LapicFault> write_x2apic(std::uint32_t msr,
                                                                  std::uint64_t value);
    [[nodiscard]] Result<void, LapicFault> write_apic_base(std::uint64_t value);
    [[nodiscard]] Result<void, LapicFault> write_svr(std::uint32_t value);
    [[nodiscard]] Result<void, LapicFault> write_lvt(Lvt index, std::uint32_t value);
    [[nodiscard]] std::optional<std::uint8_t> end_of_interrupt();
    [[nodiscard]] TimerMode timer_mode() const;
    void reset_registers();
    void record_error(std::uint32_t esr_bit);
    void deliver_local(std::uint32_t lvt_entry);
    void run_timer();

    std::uint32_t id_;
    std::uint64_t apic_base_reserved_;
    std::uint64_t apic_base_;
    LapicMode mode_{LapicMode::x2apic};

    std::uint8_t tpr_{0};
    std::uint32_t svr_{0};
    std::uint32_t esr_{0};             // what the last ESR write latched
    std::uint32_t pending_errors_{0};  // errors since then
    std::uint64_t icr_{0};
    std::array<std::uint32_t, lvt_count> lvt_{};
    VectorBitmap irr_;
    VectorBitmap isr_;
    VectorBitmap tmr_;

    LapicTimer timer_;
    std::uint64_t now_{0};  // the TSC of the last advance()
};

}  // namespace boxy::vmm
