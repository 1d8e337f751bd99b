// SPDX-License-Identifier: MIT
//
// Booting a bzImage in a service VM through the Linux x86 64-bit boot
// protocol (Documentation/x86/boot.rst, "64-bit Boot Protocol"; the zero
// page is Documentation/x86/zero-page.rst): where kernel, initrd, command
// line, zero page, GDT and page tables go in guest RAM, the e820 map the
// guest sees, and the register state its boot vCPU starts with. Pure logic
// over a byte buffer: the per-VM process owns the RAM and the vCPUs.
//
// Guest-physical memory map (RAM is [0, memory_size), memory_size <= 3 GiB):
//   0x0000_1000  GDT (4 KiB page; a 64-bit TSS at +0x80)
//   0x0000_7000  zero page (struct boot_params)
//   0x0000_8000  boot stack (RSP = 0x9000)
//   0x0000_9000  page tables: PML4, PDPT, 4 page directories (to 0xEFFF)
//   0x0002_0000  command line (up to 64 KiB)
//   0x0009_FC00  reserved to 1 MiB: EBDA, VGA hole, BIOS area; ACPI tables
//                at 0xE0000, where legacy OSes scan for the RSDP
//   0x0010_0000  RAM: kernel at its pref_address, initrd as high as allowed
//   0xD000_0000  virtio-mmio window (reserved, acpi.hpp)
//   0xFEC0_0000  I/O APIC, 0xFEE0_0000 local APIC (reserved)
// Everything below 1 MiB that the kernel only reads at entry (zero page,
// command line, GDT, page tables) stays usable RAM, as with other loaders:
// Linux copies what it needs before it allocates memory.
#pragma once

#include "acpi.hpp"
#include "bzimage.hpp"

#include <boxy/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace boxy::vm {

inline constexpr std::uint64_t kPageSize = 0x1000;
inline constexpr std::uint64_t kMiB = 0x10'0000;
inline constexpr std::uint64_t kGiB = 0x4000'0000;

inline constexpr std::uint64_t kGdtAddress = 0x1000;
inline constexpr std::uint64_t kTssAddress = kGdtAddress + 0x80;
inline constexpr std::uint64_t kZeroPageAddress = 0x7000;
inline constexpr std::uint64_t kBootStackTop = 0x9000;
inline constexpr std::uint64_t kPageTablesAddress = 0x9000;
inline constexpr std::uint64_t kIdentityMapSize = 4 * kGiB;  // all of the 32-bit space
inline constexpr std::uint64_t kPageTablesSize = (2 + kIdentityMapSize / kGiB) * kPageSize;
inline constexpr std::uint64_t kCmdlineAddress = 0x2'0000;
inline constexpr std::uint64_t kCmdlineRegionSize = 0x1'0000;
inline constexpr std::uint64_t kLowMemoryEnd = 0x9'FC00;  // where an EBDA would start
inline constexpr std::uint64_t kAcpiAddress = 0xE'0000;
inline constexpr std::uint64_t kAcpiRegionSize = 0x2'0000;  // to 1 MiB
inline constexpr std::uint64_t kHighMemoryStart = kMiB;
inline constexpr std::uint64_t kInitrdAlignment = kPageSize;

inline constexpr std::uint64_t kMinMemory = 64 * kMiB;
// RAM stays below the virtio-mmio window and the APICs; none above 4 GiB.
inline constexpr std::uint64_t kMaxMemory = 3 * kGiB;
static_assert(kMaxMemory <= kVirtioMmioBase);

// GDT selectors the 64-bit protocol requires: CS = __BOOT_CS, DS/ES/SS =
// __BOOT_DS. 0x20 is a TSS, only so that TR is valid (VM entry checks it).
inline constexpr std::uint16_t kBootCs = 0x10;
inline constexpr std::uint16_t kBootDs = 0x18;
inline constexpr std::uint16_t kBootTss = 0x20;
// Flat 4 GiB descriptors (Intel SDM Vol. 3, 3.4.5): code is 64-bit (L=1,
// D=0), execute/read, accessed; data is read/write, accessed, 32-bit.
inline constexpr std::uint64_t kGdtCode64 = 0x00AF'9B00'0000'FFFF;
inline constexpr std::uint64_t kGdtData = 0x00CF'9300'0000'FFFF;

// --- e820 (zero-page.rst: e820_table at 0x2D0, up to 128 entries) ---------

enum class E820Type : std::uint32_t { ram = 1, reserved = 2 };

struct [[gnu::packed]] E820Entry {
    std::uint64_t addr;
    std::uint64_t size;
    std::uint32_t type;
};
static_assert(sizeof(E820Entry) == 20);

inline constexpr std::size_t kMaxE820Entries = 128;

struct E820Table {
    std::array<E820Entry, kMaxE820Entries> entries{};
    std::size_t count{0};

    [[nodiscard]] std::span<const E820Entry> view() const { return {entries.data(), count}; }
};

// --- The zero page (zero-page.rst; offsets as in struct boot_params) -------

struct [[gnu::packed]] BootParams {
    std::array<std::uint8_t, 0x70> legacy0;   // screen_info, apm_bios_info, tboot, ist_info
    std::uint64_t acpi_rsdp_addr;             // 0x070 (protocol 2.14)
    std::array<std::uint8_t, 0x48> legacy1;   // hd0/hd1_info, sys_desc_table, olpc
    std::uint32_t ext_ramdisk_image;          // 0x0C0: bits 63-32 of ramdisk_image
    std::uint32_t ext_ramdisk_size;           // 0x0C4
    std::uint32_t ext_cmd_line_ptr;           // 0x0C8
    std::array<std::uint8_t, 0x11C> legacy2;  // cc_blob_address, edid_info, efi_info, ...
    std::uint8_t e820_entries;                // 0x1E8
    std::array<std::uint8_t, 6> legacy3;      // eddbuf_entries ... secure_boot
    std::uint8_t sentinel;                    // 0x1EF: must stay 0 (header copied exactly)
    std::uint8_t pad;
    SetupHeader hdr;                                    // 0x1F1
    std::array<std::uint8_t, 0x290 - 0x26C> hdr_tail;   // room for a newer, longer header
    std::array<std::uint8_t, 0x40> edd_mbr_sig_buffer;  // 0x290
    std::array<E820Entry, kMaxE820Entries> e820_table;  // 0x2D0
    std::array<std::uint8_t, 0x1000 - 0xCD0> legacy4;   // eddbuf and padding
};
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x070);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0x0C0);
static_assert(offsetof(BootParams, ext_cmd_line_ptr) == 0x0C8);
static_assert(offsetof(BootParams, e820_entries) == 0x1E8);
static_assert(offsetof(BootParams, sentinel) == 0x1EF);
static_assert(offsetof(BootParams, hdr) == kSetupHeaderOffset);
static_assert(offsetof(BootParams, e820_table) == 0x2D0);
static_assert(sizeof(BootParams) == 4096);

// --- Layout ---------------------------------------------------------------

enum class BootError : std::uint8_t {
    memory_too_small,         // below kMinMemory
    memory_too_large,         // above kMaxMemory
    memory_unaligned,         // not a multiple of 4 KiB
    kernel_address_unusable,  // a non-relocatable kernel that wants to live below 1 MiB
    kernel_does_not_fit,      // runtime start + init_size (or the image) beyond RAM
    initrd_does_not_fit,      // no 4 KiB aligned room below initrd_addr_max beside the kernel
    cmdline_too_long,         // longer than the kernel's cmdline_size or our region
    cmdline_has_nul,          // a NUL inside would cut it short
    ram_too_small,            // the RAM buffer is smaller than the layout's memory size
    input_mismatch,           // initrd or command line differ from what was planned
};

[[nodiscard]] std::string_view to_string(BootError error);

// What the VM configuration asks for.
struct BootRequest {
    std::uint64_t memory_size{0};
    std::uint64_t initrd_size{0};   // 0: no initrd
    std::size_t cmdline_length{0};  // without the terminating NUL
};

// Guest-physical placement of everything, decided before anything is
// written. Spans are [address, address + size).
struct BootLayout {
    std::uint64_t memory_size{0};
    std::uint64_t kernel_address{0};  // the protected-mode kernel is loaded here
    std::uint64_t kernel_size{0};
    // What the kernel claims at entry: init_size bytes from its runtime start
    // (boot.rst, "init_size"), which is pref_address when loaded lower.
    std::uint64_t kernel_runtime_start{0};
    std::uint64_t kernel_runtime_end{0};
    std::uint64_t initrd_address{0};
    std::uint64_t initrd_size{0};
    std::uint64_t cmdline_address{kCmdlineAddress};
    std::uint64_t cmdline_size{0};  // with the NUL
    std::uint64_t zero_page_address{kZeroPageAddress};
    std::uint64_t gdt_address{kGdtAddress};
    std::uint64_t page_tables_address{kPageTablesAddress};
    std::uint64_t acpi_address{kAcpiAddress};
    std::uint64_t acpi_size{kAcpiRegionSize};
    std::uint64_t entry_point{0};  // kernel_address + 0x200: startup_64
};

// Kernel at pref_address when possible (else the first kernel_alignment
// boundary above 1 MiB), initrd at the highest 4 KiB boundary that fits
// below min(initrd_addr_max, memory) and clear of the kernel.
[[nodiscard]] Result<BootLayout, BootError> plan_layout(const BzImage& image,
                                                        const BootRequest& request);

// RAM minus the legacy hole, plus the reserved MMIO ranges; sorted.
[[nodiscard]] Result<E820Table, BootError> build_e820(std::uint64_t memory_size);

// The zero page for `layout`: the image's setup header with the loader's
// fields filled in, the e820 map and the RSDP address.
[[nodiscard]] BootParams make_boot_params(const BzImage& image, const BootLayout& layout,
                                          const E820Table& e820, std::uint64_t rsdp_address);

// Writes kernel, initrd, command line, zero page, GDT/TSS and page tables
// into `ram` (guest-physical 0 at ram[0]). ACPI tables are written
// separately (write_acpi_tables at layout.acpi_address).
[[nodiscard]] Result<void, BootError> load_boot_images(std::span<std::uint8_t> ram,
                                                       const BzImage& image,
                                                       const BootLayout& layout, ByteView initrd,
                                                       std::string_view cmdline,
                                                       std::uint64_t rsdp_address);

// --- The boot vCPU --------------------------------------------------------

// Hidden segment state. attributes: descriptor bits 40-47 in bits 0-7 and
// bits 52-55 in bits 8-11 (the AMD VMCB format, as arch/x64/segment.hpp).
struct SegmentRegister {
    std::uint16_t selector{0};
    std::uint16_t attributes{0};
    std::uint32_t limit{0};
    std::uint64_t base{0};
};

struct TableRegister {
    std::uint64_t base{0};
    std::uint16_t limit{0};
};

// The boot vCPU at the 64-bit entry ("64-bit Boot Protocol"): long mode
// with paging, the identity map loaded, CS/DS from the GDT above,
// interrupts off, RSI = zero page. Other general registers are zero. The
// other vCPUs wait for INIT/SIPI as on real hardware.
struct VcpuBootState {
    std::uint64_t rip{0};
    std::uint64_t rsi{0};
    std::uint64_t rsp{0};
    std::uint64_t rflags{0};
    std::uint64_t cr0{0};
    std::uint64_t cr3{0};
    std::uint64_t cr4{0};
    std::uint64_t efer{0};
    SegmentRegister cs, ds, es, ss, fs, gs, tr, ldtr;
    TableRegister gdtr, idtr;
};

[[nodiscard]] VcpuBootState boot_vcpu_state(const BootLayout& layout);

}  // namespace boxy::vm
