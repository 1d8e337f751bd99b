// SPDX-License-Identifier: MIT
#include "io_bus.hpp"

#include <fmt/format.h>
#include <utility>

namespace boxy::vm {
namespace {

constexpr std::uint32_t kPortSpaceEnd = 0x1'0000;
constexpr std::uint64_t kPageShift = 12;

bool valid_port_width(std::uint32_t width)
{
    return width == 1 || width == 2 || width == 4;
}

bool valid_mmio_width(std::uint32_t width)
{
    return width == 1 || width == 2 || width == 4 || width == 8;
}

}  // namespace

IoBus::IoBus(Logger log) : log_{std::move(log)}
{
}

bool IoBus::add_ports(std::uint16_t first, std::uint32_t count, PortDevice& device)
{
    const std::uint32_t end = std::uint32_t{first} + count;
    if (count == 0 || end > kPortSpaceEnd) {
        return false;
    }
    for (const PortRange& range : ports_) {
        if (first < range.end && range.first < end) {
            return false;
        }
    }
    ports_.push_back({first, end, &device});
    return true;
}

bool IoBus::add_mmio(std::uint64_t base, std::uint64_t size, MmioDevice& device)
{
    if (size == 0 || base > UINT64_MAX - size) {
        return false;
    }
    for (const MmioRange& range : mmio_) {
        if (base < range.base + range.size && range.base < base + size) {
            return false;
        }
    }
    mmio_.push_back({base, size, &device});
    return true;
}

PortDevice* IoBus::port_device(std::uint16_t port) const
{
    for (const PortRange& range : ports_) {
        if (port >= range.first && port < range.end) {
            return range.device;
        }
    }
    return nullptr;
}

const IoBus::MmioRange* IoBus::mmio_range(std::uint64_t address, std::uint32_t width) const
{
    for (const MmioRange& range : mmio_) {
        // The whole access inside the range, written so that nothing wraps.
        if (address >= range.base && address - range.base < range.size &&
            width <= range.size - (address - range.base)) {
            return &range;
        }
    }
    return nullptr;
}

std::uint32_t IoBus::port_read(std::uint16_t port, std::uint32_t width)
{
    if (!valid_port_width(width)) {
        ++stats_.bad_width;
        return 0;
    }
    if (PortDevice* device = port_device(port)) {
        return static_cast<std::uint32_t>(device->port_read(port, width) & all_ones(width));
    }
    ++stats_.unknown_port_reads;
    note_unknown(Space::port, false, port, width, 0);
    return static_cast<std::uint32_t>(all_ones(width));
}

void IoBus::port_write(std::uint16_t port, std::uint32_t width, std::uint32_t value)
{
    if (!valid_port_width(width)) {
        ++stats_.bad_width;
        return;
    }
    const auto masked = static_cast<std::uint32_t>(value & all_ones(width));
    if (PortDevice* device = port_device(port)) {
        device->port_write(port, width, masked);
        return;
    }
    ++stats_.unknown_port_writes;
    note_unknown(Space::port, true, port, width, masked);
}

std::uint64_t IoBus::mmio_read(std::uint64_t address, std::uint32_t width)
{
    if (!valid_mmio_width(width)) {
        ++stats_.bad_width;
        return 0;
    }
    if (const MmioRange* range = mmio_range(address, width)) {
        return range->device->mmio_read(address - range->base, width) & all_ones(width);
    }
    ++stats_.unknown_mmio_reads;
    note_unknown(Space::mmio, false, address, width, 0);
    return all_ones(width);
}

void IoBus::mmio_write(std::uint64_t address, std::uint32_t width, std::uint64_t value)
{
    if (!valid_mmio_width(width)) {
        ++stats_.bad_width;
        return;
    }
    const std::uint64_t masked = value & all_ones(width);
    if (const MmioRange* range = mmio_range(address, width)) {
        range->device->mmio_write(address - range->base, width, masked);
        return;
    }
    ++stats_.unknown_mmio_writes;
    note_unknown(Space::mmio, true, address, width, masked);
}

void IoBus::note_unknown(Space space, bool write, std::uint64_t address, std::uint32_t width,
                         std::uint64_t value)
{
    if (log_lines_ >= kMaxLogLines) {
        return;
    }
    auto& table = space == Space::port ? unknown_ports_ : unknown_pages_;
    const std::uint64_t key = space == Space::port ? address : address >> kPageShift;
    auto it = table.find(key);
    if (it == table.end()) {
        if (space == Space::mmio && table.size() >= kMaxTrackedPages) {
            return;  // too many distinct pages: counted in stats_ only
        }
        it = table.emplace(key, 0).first;
    }
    if (++it->second > kLogsPerAddress) {
        return;
    }
    const bool port = space == Space::port;
    std::string line = write ? fmt::format("unknown {} write: {:#x} width {} value {:#x} (ignored)",
                                           port ? "port" : "MMIO", address, width, value)
                             : fmt::format("unknown {} read: {:#x} width {} (reads as all ones)",
                                           port ? "port" : "MMIO", address, width);
    if (it->second == kLogsPerAddress) {
        line += port ? "; further accesses to this port are only counted"
                     : "; further accesses to this page are only counted";
    }
    if (++log_lines_ == kMaxLogLines) {
        line += "; log limit for unknown accesses reached, further ones are only counted";
    }
    if (log_) {
        log_(line);
    }
}

}  // namespace boxy::vm
