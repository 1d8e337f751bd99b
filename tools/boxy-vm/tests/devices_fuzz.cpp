// SPDX-License-Identifier: MIT
//
// libFuzzer target: the register interfaces a guest reaches with port I/O
// and MMIO: the I/O APIC (with devices driving its pins), the 16550 UART,
// the i8042, the power registers, PIT channel 2 and the CMOS RTC (on
// clocks the input moves), wired as on the board (UART on pin 4,
// keyboard on pin 1). Any sequence of accesses, line changes and EOIs must
// keep the invariants below and never touch memory it should not (ASan).
#include "fuzz_input.hpp"
#include "i8042.hpp"
#include "ioapic.hpp"
#include "pit.hpp"
#include "power.hpp"
#include "rtc.hpp"
#include "uart.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace {

using boxy::fuzz::FuzzInput;
using boxy::fuzz::require;
using namespace boxy::vm;  // NOLINT(google-build-using-namespace): harness brevity

constexpr std::uint32_t kVcpus = 3;

class CheckingSink final : public InterruptSink {
public:
    bool inject(std::uint32_t vcpu, std::uint8_t vector, bool /*level*/) override
    {
        // The ABI's rules: an existing vCPU, no exception vector.
        require(vcpu < kVcpus);
        require(vector >= 16);
        return refuse_next ? (refuse_next = false) : true;
    }
    bool refuse_next = false;
};

class Pin final : public InterruptLine {
public:
    Pin(IoApic& ioapic, std::uint32_t pin) : ioapic_{&ioapic}, pin_{pin} {}
    void set_level(bool asserted) override { ioapic_->set_level(pin_, asserted); }

private:
    IoApic* ioapic_;
    std::uint32_t pin_;
};

class Discard final : public ConsoleOutput {
public:
    void write(std::span<const std::uint8_t> bytes) override { written += bytes.size(); }
    std::size_t written = 0;
};

std::uint32_t width_of(std::uint8_t selector)
{
    constexpr std::uint32_t kWidths[] = {1, 2, 4, 8, 1, 4, 3, 0};
    return kWidths[selector % 8];
}

// A read or write of a device with byte-wide ports: mostly a byte, wider
// when the selector's top bit asks; a byte read never has bits above 7.
void access_byte_port(PortDevice& device, std::uint16_t port, std::uint8_t selector,
                      std::uint32_t width, FuzzInput& input)
{
    const std::uint32_t access_width = (selector & 0x80) != 0 ? width : 1;
    if ((selector & 0x40) != 0) {
        device.port_write(port, access_width, input.next<std::uint8_t>());
    } else {
        const std::uint32_t value = device.port_read(port, access_width);
        require(access_width != 1 || value <= 0xFF);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    FuzzInput input{data, size};
    CheckingSink sink;
    IoApic ioapic{sink, kVcpus, kVcpus};
    Pin com1{ioapic, 4};
    Pin keyboard{ioapic, 1};
    Discard console;
    Uart uart{0x3F8, console, com1};
    int resets = 0;
    I8042 i8042{keyboard, [&resets] { ++resets; }};
    PowerControl power{[](PowerEvent) {}};
    std::uint64_t now_ns = 0;
    PitChannel2 pit{[&now_ns] { return now_ns; }};
    // The host's wall clock starts anywhere from 1970 to 2199.
    std::int64_t wall_ns =
        static_cast<std::int64_t>(input.next<std::uint64_t>() % (7'200'000'000ULL)) * 1'000'000'000;
    CmosRtc rtc{[&wall_ns] { return wall_ns; }};

    for (int step = 0; step < 2000 && !input.empty(); ++step) {
        const auto op = input.next<std::uint8_t>();
        const auto selector = input.next<std::uint8_t>();
        const std::uint32_t width = width_of(selector);
        switch (op % 14) {
            case 0: {  // I/O APIC write, mostly at its registers
                const std::uint64_t offset =
                    (selector & 0x80) != 0 ? input.next<std::uint16_t>() : (selector & 3U) * 0x10;
                ioapic.mmio_write(offset, width, input.next<std::uint32_t>());
                break;
            }
            case 1: (void)ioapic.mmio_read((selector & 1U) * 0x10, width); break;
            case 2: ioapic.set_level(selector % 26U, (selector & 0x40) != 0); break;
            case 3: ioapic.end_of_interrupt(input.next<std::uint8_t>()); break;
            case 4: {
                const auto port = static_cast<std::uint16_t>(0x3F7 + selector % 10);
                uart.port_write(port, (selector & 0x80) != 0 ? width : 1,
                                input.next<std::uint8_t>());
                break;
            }
            case 5: {
                const auto port = static_cast<std::uint16_t>(0x3F7 + selector % 10);
                (void)uart.port_read(port, (selector & 0x80) != 0 ? width : 1);
                break;
            }
            case 6: {
                const std::uint16_t port = (selector & 1) != 0 ? 0x64 : 0x60;
                i8042.port_write(port, (selector & 0x80) != 0 ? width : 1,
                                 input.next<std::uint8_t>());
                break;
            }
            case 7: (void)i8042.port_read((selector & 1) != 0 ? 0x64 : 0x60, 1); break;
            case 8:
                if ((selector & 1) != 0) {
                    (void)i8042.press_ctrl_alt_del();
                } else {
                    const auto byte = input.next<std::uint8_t>();
                    (void)uart.receive({&byte, 1});
                }
                break;
            case 9:
                power.port_write(static_cast<std::uint16_t>(0x5FF + selector % 4), width,
                                 input.next<std::uint8_t>());
                sink.refuse_next = (selector & 0x10) != 0;
                break;
            case 10: {
                constexpr std::uint16_t kPitPorts[] = {0x42, 0x43, 0x61, 0x40};
                access_byte_port(pit, kPitPorts[selector % 4], selector, width, input);
                break;
            }
            case 11: {  // time passes
                const auto step_ns = input.next<std::uint32_t>();
                now_ns += step_ns;
                wall_ns += step_ns;
                break;
            }
            case 12:
                access_byte_port(rtc, static_cast<std::uint16_t>(0x70 + (selector & 1U)), selector,
                                 width, input);
                break;
            case 13: {  // whatever the guest wrote, its clock stays in 1970-2199
                const std::int64_t guest_s = (wall_ns + rtc.offset_ns()) / 1'000'000'000;
                require(guest_s >= 0 && guest_s < 7'300'000'000LL);
                break;
            }
            default: break;
        }
        // Remote IRR exists only on level-triggered entries (3.2.4).
        for (std::uint32_t pin = 0; pin < IoApic::kPins; ++pin) {
            const RedirectionEntry entry = ioapic.entry(pin);
            require(!entry.remote_irr() || entry.level_triggered());
        }
        // The transmitter is never busy.
        const auto status = static_cast<std::uint8_t>(uart.port_read(0x3FD, 1));
        require((status & 0x60) == 0x60);
    }
    return 0;
}
