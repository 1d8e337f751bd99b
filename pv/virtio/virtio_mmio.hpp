// SPDX-License-Identifier: MIT
//
// The virtio-mmio transport, version 2 (virtio 1.1 §4.2 "Virtio Over
// MMIO"): the register file a guest driver sees, with the device status
// state machine and feature negotiation of §2.1, §2.2 and §3.1. The per-VM
// host process routes the guest's MMIO exits for one device window here
// (read()/write()) and drives the dedicated interrupt line from
// interrupt_asserted(). A VirtioDevice supplies what is device-specific.
//
// The guest is untrusted: every access of the wrong width, alignment or
// direction, to an unknown offset, or that breaks the driver rules of the
// spec is ignored (reads return 0) and counted in MmioStats; none of them
// reaches the device. Not thread-safe: one thread serves a device.
//
// Not supported (a device must not offer them): legacy mmio (version 1),
// VIRTIO_F_NOTIFICATION_DATA, VIRTIO_F_RING_RESET (QueueReset reads 0),
// shared memory regions (the virtio 1.2 SHM registers report none).
#pragma once

#include "virtio/virtqueue.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace boxy::virtio {

// §4.2.2 "MMIO Device Register Layout": offsets from the window base.
enum class MmioRegister : std::uint32_t {
    kMagicValue = 0x000,
    kVersion = 0x004,
    kDeviceId = 0x008,
    kVendorId = 0x00c,
    kDeviceFeatures = 0x010,
    kDeviceFeaturesSel = 0x014,
    kDriverFeatures = 0x020,
    kDriverFeaturesSel = 0x024,
    kQueueSel = 0x030,
    kQueueNumMax = 0x034,
    kQueueNum = 0x038,
    kQueueReady = 0x044,
    kQueueNotify = 0x050,
    kInterruptStatus = 0x060,
    kInterruptAck = 0x064,
    kStatus = 0x070,
    kQueueDescLow = 0x080,
    kQueueDescHigh = 0x084,
    kQueueDriverLow = 0x090,
    kQueueDriverHigh = 0x094,
    kQueueDeviceLow = 0x0a0,
    kQueueDeviceHigh = 0x0a4,
    kShmSel = 0x0ac,  // SHM* and QueueReset: virtio 1.2 §4.2.2
    kShmLenLow = 0x0b0,
    kShmLenHigh = 0x0b4,
    kShmBaseLow = 0x0b8,
    kShmBaseHigh = 0x0bc,
    kQueueReset = 0x0c0,
    kConfigGeneration = 0x0fc,
    kConfig = 0x100,  // device-specific configuration space (§2.4)
};

inline constexpr std::uint32_t kMmioMagicValue = 0x74726976;  // "virt", little-endian
inline constexpr std::uint32_t kMmioVersion = 2;
inline constexpr std::uint32_t kBoxyVendorId = 0x59584f42;  // "BOXY", little-endian

// §2.1 "Device Status Field".
inline constexpr std::uint32_t kStatusAcknowledge = 1;
inline constexpr std::uint32_t kStatusDriver = 2;
inline constexpr std::uint32_t kStatusDriverOk = 4;
inline constexpr std::uint32_t kStatusFeaturesOk = 8;
inline constexpr std::uint32_t kStatusDeviceNeedsReset = 64;
inline constexpr std::uint32_t kStatusFailed = 128;

// §4.2.2 InterruptStatus / InterruptACK bits.
inline constexpr std::uint32_t kInterruptUsedBuffer = 1;
inline constexpr std::uint32_t kInterruptConfigChange = 2;

// §6 "Reserved Feature Bits" that this library knows.
inline constexpr std::uint64_t kFeatureIndirectDesc = std::uint64_t{1} << 28;
inline constexpr std::uint64_t kFeatureEventIdx = std::uint64_t{1} << 29;
inline constexpr std::uint64_t kFeatureVersion1 = std::uint64_t{1} << 32;

// What the driver wrote for one queue (§4.2.3.2 "Virtqueue Configuration").
struct MmioQueueState {
    std::uint32_t max_size{0};  // QueueNumMax, from the device; 0: no such queue
    std::uint32_t size{0};      // QueueNum; checked when the driver sets QueueReady
    bool ready{false};          // QueueReady
    Gpa descriptor_area{0};     // QueueDescLow/High
    Gpa driver_area{0};         // QueueDriverLow/High: the available ring
    Gpa device_area{0};         // QueueDeviceLow/High: the used ring
};

// The ring configuration of a ready queue under the negotiated features,
// for Virtqueue::create (which checks it against guest RAM).
[[nodiscard]] QueueConfig make_queue_config(const MmioQueueState& queue, std::uint64_t features);

// What a device model provides. The transport calls it only with accesses
// that the spec allows, already checked.
class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;
    VirtioDevice(const VirtioDevice&) = delete;
    VirtioDevice& operator=(const VirtioDevice&) = delete;
    VirtioDevice(VirtioDevice&&) = delete;
    VirtioDevice& operator=(VirtioDevice&&) = delete;

    // §5 device type: 1 net, 2 block, 3 console. Never 0.
    [[nodiscard]] virtual std::uint32_t device_id() const = 0;
    // Offered features; must include kFeatureVersion1 (§6).
    [[nodiscard]] virtual std::uint64_t device_features() const = 0;
    [[nodiscard]] virtual std::uint16_t queue_count() const = 0;
    // A power of two <= 32768 for each queue below queue_count().
    [[nodiscard]] virtual std::uint32_t queue_max_size(std::uint16_t queue) const = 0;

    // The device-specific configuration space (§2.4): `offset` is relative
    // to it; width is 1, 2 or 4, the access naturally aligned and inside
    // config_size() (§4.2.2.2).
    [[nodiscard]] virtual std::uint32_t config_size() const = 0;
    [[nodiscard]] virtual std::uint32_t config_read(std::uint32_t offset, std::uint32_t width) = 0;
    virtual void config_write(std::uint32_t offset, std::uint32_t width, std::uint32_t value) = 0;

    // The driver set FEATURES_OK with `features`, already a subset of
    // device_features() holding VERSION_1. false refuses them: FEATURES_OK
    // then stays clear (§2.2.2, §3.1.1 steps 5-6).
    [[nodiscard]] virtual bool accept_features(std::uint64_t features) = 0;
    // The driver set DRIVER_OK: serve the ready queues from now on. false
    // sets DEVICE_NEEDS_RESET (e.g. a ring outside guest RAM).
    [[nodiscard]] virtual bool activate(std::uint64_t features,
                                        std::span<const MmioQueueState> queues) = 0;
    // Available buffer notification (§4.2.3.3) for a ready queue, after
    // DRIVER_OK: drain the queue.
    virtual void queue_notify(std::uint16_t queue) = 0;
    // The driver cleared QueueReady after DRIVER_OK: stop touching the queue
    // (§4.2.2.1: "The device MUST NOT access virtual queue contents when
    // QueueReady is zero").
    virtual void queue_disabled(std::uint16_t queue) = 0;
    // Device reset (§2.1.2, §4.2.2 Status): drop all queue state.
    virtual void reset() = 0;

protected:
    VirtioDevice() = default;
};

// Guest accesses the transport refused, by reason.
struct MmioStats {
    std::uint64_t bad_access{0};         // wrong width or alignment
    std::uint64_t unknown_offset{0};     // no register there
    std::uint64_t wrong_direction{0};    // read of a W register, write of an R one
    std::uint64_t ignored_writes{0};     // writes the driver rules forbid in this state
    std::uint64_t rejected_features{0};  // FEATURES_OK refused
    std::uint64_t notifications{0};      // QueueNotify writes passed to the device
};

class VirtioMmioTransport {
public:
    // `device` must outlive the transport.
    explicit VirtioMmioTransport(VirtioDevice& device, std::uint32_t vendor_id = kBoxyVendorId);

    // A guest access at `offset` from the window base, `width` bytes (1, 2,
    // 4 or 8, as the MMIO exit reports it).
    [[nodiscard]] std::uint64_t read(std::uint64_t offset, std::uint32_t width);
    void write(std::uint64_t offset, std::uint32_t width, std::uint64_t value);

    // Device side (§4.2.3.4 "Notifications From The Device"). Used buffer
    // notifications are dropped before DRIVER_OK (§2.1.2).
    void signal_used_buffers();
    // The device changed its configuration space: new ConfigGeneration, and
    // a configuration change notification once DRIVER_OK is set.
    void signal_config_change();
    // §2.1.2: the device hit an error it cannot recover from without reset.
    void set_needs_reset();
    // The level of the device's interrupt line: InterruptStatus != 0.
    [[nodiscard]] bool interrupt_asserted() const { return interrupt_status_ != 0; }

    [[nodiscard]] std::uint32_t status() const { return status_; }
    // The features the driver accepted; final once FEATURES_OK is set.
    [[nodiscard]] std::uint64_t driver_features() const { return driver_features_; }
    [[nodiscard]] std::span<const MmioQueueState> queues() const { return queues_; }
    [[nodiscard]] const MmioStats& stats() const { return stats_; }

private:
    [[nodiscard]] std::uint32_t read_register(MmioRegister reg);
    void write_register(MmioRegister reg, std::uint32_t value);
    [[nodiscard]] std::uint64_t read_config(std::uint64_t offset, std::uint32_t width);
    void write_config(std::uint64_t offset, std::uint32_t width, std::uint32_t value);
    void write_status(std::uint32_t value);
    void write_queue_ready(std::uint32_t value);
    void write_queue_field(MmioRegister reg, std::uint32_t value);
    void write_driver_features(std::uint32_t value);
    [[nodiscard]] bool negotiate_features();
    [[nodiscard]] MmioQueueState* selected_queue();
    void reset();

    VirtioDevice* device_;
    std::uint32_t vendor_id_;
    std::uint32_t status_{0};
    std::uint32_t device_features_sel_{0};
    std::uint32_t driver_features_sel_{0};
    std::uint64_t driver_features_{0};
    std::uint32_t queue_sel_{0};
    std::uint32_t interrupt_status_{0};
    std::uint32_t config_generation_{0};
    std::vector<MmioQueueState> queues_;
    MmioStats stats_;
};

}  // namespace boxy::virtio
