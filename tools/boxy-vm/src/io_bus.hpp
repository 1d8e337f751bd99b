// SPDX-License-Identifier: MIT
//
// Dispatch of a vCPU's port I/O and MMIO exits to the device models. Each
// device claims port ranges or MMIO ranges; an access nobody claims reads
// as all ones and is ignored when written, as on a PC bus with nothing
// decoding the address. Those accesses are counted per port / per MMIO
// page, and the first few of each are logged, with a global cap, so a
// guest probing hardware cannot flood the process log.
//
// Not thread-safe: the caller serialises (machine.hpp's lock).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace boxy::vm {

class PortDevice {
public:
    PortDevice() = default;
    PortDevice(const PortDevice&) = delete;
    PortDevice& operator=(const PortDevice&) = delete;
    PortDevice(PortDevice&&) = delete;
    PortDevice& operator=(PortDevice&&) = delete;
    virtual ~PortDevice() = default;

    // `port` is the absolute port number; width is 1, 2 or 4.
    [[nodiscard]] virtual std::uint32_t port_read(std::uint16_t port, std::uint32_t width) = 0;
    virtual void port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value) = 0;
};

class MmioDevice {
public:
    MmioDevice() = default;
    MmioDevice(const MmioDevice&) = delete;
    MmioDevice& operator=(const MmioDevice&) = delete;
    MmioDevice(MmioDevice&&) = delete;
    MmioDevice& operator=(MmioDevice&&) = delete;
    virtual ~MmioDevice() = default;

    // `offset` is relative to the claimed range and the access lies wholly
    // inside it; width is 1, 2, 4 or 8.
    [[nodiscard]] virtual std::uint64_t mmio_read(std::uint64_t offset, std::uint32_t width) = 0;
    virtual void mmio_write(std::uint64_t offset, std::uint32_t width, std::uint64_t value) = 0;
};

struct IoBusStats {
    std::uint64_t unknown_port_reads{0};
    std::uint64_t unknown_port_writes{0};
    std::uint64_t unknown_mmio_reads{0};
    std::uint64_t unknown_mmio_writes{0};
    std::uint64_t bad_width{0};  // an exit with a width the bus does not know
};

class IoBus {
public:
    using Logger = std::function<void(const std::string&)>;

    // At most this many log lines per unknown port or MMIO page, and this
    // many in all; everything is counted regardless.
    static constexpr std::uint64_t kLogsPerAddress = 3;
    static constexpr std::uint64_t kMaxLogLines = 100;
    // Distinct MMIO pages tracked for the per-page limit (a guest may touch
    // any address: the table stays bounded).
    static constexpr std::size_t kMaxTrackedPages = 1024;

    explicit IoBus(Logger log);

    // Claims [first, first + count) or [base, base + size); false when the
    // range is empty, wraps or overlaps one claimed already.
    [[nodiscard]] bool add_ports(std::uint16_t first, std::uint32_t count, PortDevice& device);
    [[nodiscard]] bool add_mmio(std::uint64_t base, std::uint64_t size, MmioDevice& device);

    // A vCPU's IN / OUT. Reads return `width` bytes (the rest zero).
    [[nodiscard]] std::uint32_t port_read(std::uint16_t port, std::uint32_t width);
    void port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value);
    // A vCPU's MMIO load / store at guest-physical `address`.
    [[nodiscard]] std::uint64_t mmio_read(std::uint64_t address, std::uint32_t width);
    void mmio_write(std::uint64_t address, std::uint32_t width, std::uint64_t value);

    [[nodiscard]] const IoBusStats& stats() const { return stats_; }

private:
    struct PortRange {
        std::uint32_t first;
        std::uint32_t end;  // one past the last port
        PortDevice* device;
    };
    struct MmioRange {
        std::uint64_t base;
        std::uint64_t size;
        MmioDevice* device;
    };

    [[nodiscard]] PortDevice* port_device(std::uint16_t port) const;
    [[nodiscard]] const MmioRange* mmio_range(std::uint64_t address, std::uint32_t width) const;
    enum class Space : std::uint8_t { port, mmio };
    void note_unknown(Space space, bool write, std::uint64_t address, std::uint32_t width,
                      std::uint64_t value);

    Logger log_;
    std::vector<PortRange> ports_;
    std::vector<MmioRange> mmio_;
    IoBusStats stats_;
    std::unordered_map<std::uint64_t, std::uint64_t> unknown_ports_;
    std::unordered_map<std::uint64_t, std::uint64_t> unknown_pages_;
    std::uint64_t log_lines_{0};
};

// All ones in the low `width` bytes: what a read nobody answers returns.
[[nodiscard]] constexpr std::uint64_t all_ones(std::uint32_t width)
{
    return width >= 8 ? ~0ULL : (1ULL << (8 * width)) - 1;
}

}  // namespace boxy::vm
