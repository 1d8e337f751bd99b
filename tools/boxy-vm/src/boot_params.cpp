// SPDX-License-Identifier: MIT
#include "boot_params.hpp"

#include <algorithm>
#include <cstring>

namespace boxy::vm {
namespace {

// Control register and EFER bits (Intel SDM Vol. 3, 2.5 and 2.2.1).
constexpr std::uint64_t kCr0Pe = 1U << 0;
constexpr std::uint64_t kCr0Et = 1U << 4;
constexpr std::uint64_t kCr0Ne = 1U << 5;
constexpr std::uint64_t kCr0Pg = 1U << 31;
constexpr std::uint64_t kCr4Pae = 1U << 5;
constexpr std::uint64_t kEferLme = 1U << 8;
constexpr std::uint64_t kEferLma = 1U << 10;
constexpr std::uint64_t kRflagsFixed = 1U << 1;  // bit 1 reads as 1; IF clear

// Page-table entry bits (Intel SDM Vol. 3, 4.5): present, writable, and PS
// for a 2 MiB leaf in a page directory.
constexpr std::uint64_t kPtePresent = 1U << 0;
constexpr std::uint64_t kPteWritable = 1U << 1;
constexpr std::uint64_t kPteLargePage = 1U << 7;
constexpr std::uint64_t kLargePageSize = 2 * kMiB;
constexpr std::size_t kEntriesPerTable = 512;

// 64-bit TSS: 104 bytes (SDM Vol. 3, 8.7), so the limit is 0x67; type 0xB
// (busy) because VM entry wants TR busy, P = 1.
constexpr std::uint64_t kTssLimit = 0x67;
constexpr std::uint64_t kTssAccessByte = 0x8B;

constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment)
{
    return (value + alignment - 1) & ~(alignment - 1);
}

constexpr std::uint64_t align_down(std::uint64_t value, std::uint64_t alignment)
{
    return value & ~(alignment - 1);
}

bool overlaps(std::uint64_t a, std::uint64_t a_size, std::uint64_t b, std::uint64_t b_size)
{
    return a < b + b_size && b < a + a_size;
}

// The two quadwords of the TSS descriptor (SDM Vol. 3, 8.2.3).
std::array<std::uint64_t, 2> tss_descriptor(std::uint64_t base)
{
    const std::uint64_t low = (kTssLimit & 0xFFFF) | ((base & 0xFF'FFFF) << 16) |
                              (kTssAccessByte << 40) | (((base >> 24) & 0xFF) << 56);
    return {low, base >> 32};
}

SegmentRegister segment_from(std::uint16_t selector, std::uint64_t descriptor, std::uint64_t base)
{
    SegmentRegister segment;
    segment.selector = selector;
    segment.attributes =
        static_cast<std::uint16_t>(((descriptor >> 40) & 0xFF) | (((descriptor >> 52) & 0xF) << 8));
    std::uint64_t limit = (descriptor & 0xFFFF) | ((descriptor >> 32) & 0xF'0000);
    if ((descriptor & (std::uint64_t{1} << 55)) != 0) {  // G: 4 KiB granularity
        limit = (limit << 12) | 0xFFF;
    }
    segment.limit = static_cast<std::uint32_t>(limit);
    segment.base = base;
    return segment;
}

void put_u64(std::span<std::uint8_t> ram, std::uint64_t address, std::uint64_t value)
{
    std::memcpy(ram.data() + address, &value, sizeof(value));
}

void put_bytes(std::span<std::uint8_t> ram, std::uint64_t address, ByteView bytes)
{
    std::copy(bytes.begin(), bytes.end(), ram.begin() + static_cast<std::ptrdiff_t>(address));
}

void zero(std::span<std::uint8_t> ram, std::uint64_t address, std::uint64_t size)
{
    std::fill_n(ram.begin() + static_cast<std::ptrdiff_t>(address), size, std::uint8_t{0});
}

// PML4[0] -> PDPT; PDPT[i] -> page directory i; each directory maps 1 GiB
// in 2 MiB pages. 2 MiB pages exist on every x86-64 CPU (1 GiB pages need
// CPUID.80000001H:EDX.Page1GB, which a VMM may hide).
void write_page_tables(std::span<std::uint8_t> ram, std::uint64_t base)
{
    zero(ram, base, kPageTablesSize);
    const std::uint64_t pdpt = base + kPageSize;
    const std::uint64_t first_pd = pdpt + kPageSize;
    put_u64(ram, base, pdpt | kPtePresent | kPteWritable);
    for (std::uint64_t gib = 0; gib < kIdentityMapSize / kGiB; ++gib) {
        const std::uint64_t pd = first_pd + gib * kPageSize;
        put_u64(ram, pdpt + gib * 8, pd | kPtePresent | kPteWritable);
        for (std::uint64_t i = 0; i < kEntriesPerTable; ++i) {
            const std::uint64_t address = gib * kGiB + i * kLargePageSize;
            put_u64(ram, pd + i * 8, address | kPtePresent | kPteWritable | kPteLargePage);
        }
    }
}

void write_gdt(std::span<std::uint8_t> ram, std::uint64_t gdt, std::uint64_t tss)
{
    zero(ram, gdt, kPageSize);
    put_u64(ram, gdt + kBootCs, kGdtCode64);
    put_u64(ram, gdt + kBootDs, kGdtData);
    const auto tss_entry = tss_descriptor(tss);
    put_u64(ram, gdt + kBootTss, tss_entry[0]);
    put_u64(ram, gdt + kBootTss + 8, tss_entry[1]);
}

Result<void, BootError> check_memory(std::uint64_t memory_size)
{
    if (memory_size < kMinMemory) {
        return make_error(BootError::memory_too_small);
    }
    if (memory_size > kMaxMemory) {
        return make_error(BootError::memory_too_large);
    }
    if (memory_size % kPageSize != 0) {
        return make_error(BootError::memory_unaligned);
    }
    return {};
}

// The kernel's place (boot.rst, "Details of Header Fields": pref_address,
// kernel_alignment, relocatable_kernel, init_size).
Result<void, BootError> place_kernel(const BzImage& image, BootLayout& layout)
{
    const std::uint64_t pref = image.pref_address();
    if (pref >= layout.memory_size) {
        return make_error(BootError::kernel_does_not_fit);
    }
    std::uint64_t load = pref;
    std::uint64_t runtime_start = pref;
    if (image.relocatable()) {
        const std::uint64_t alignment = image.kernel_alignment();
        if (pref < kHighMemoryStart || pref % alignment != 0) {
            load = align_up(kHighMemoryStart, alignment);
        }
        // init_size's algorithm: a kernel loaded below pref_address runs at
        // pref_address anyway (it moves itself there to decompress).
        runtime_start = align_up(std::max(load, pref), alignment);
    } else if (pref < kHighMemoryStart) {
        return make_error(BootError::kernel_address_unusable);
    }
    const std::uint64_t memory = layout.memory_size;
    if (load >= memory || image.kernel.size() > memory - load || runtime_start >= memory ||
        image.init_size() > memory - runtime_start) {
        return make_error(BootError::kernel_does_not_fit);
    }
    layout.kernel_address = load;
    layout.kernel_size = image.kernel.size();
    layout.kernel_runtime_start = runtime_start;
    layout.kernel_runtime_end = runtime_start + image.init_size();
    layout.entry_point = load + kEntry64Offset;
    return {};
}

// The highest 4 KiB aligned place below `limit` that is clear of the kernel
// (its image and its init_size span), else the highest below the kernel.
Result<void, BootError> place_initrd(const BzImage& image, std::uint64_t size, BootLayout& layout)
{
    if (size == 0) {
        return {};
    }
    // initrd_addr_max is the highest address the initrd may occupy, so its
    // end may be one past it ("Details of Header Fields").
    const std::uint64_t limit = std::min(image.initrd_addr_max() + 1, layout.memory_size);
    const std::uint64_t kernel_low = std::min(layout.kernel_address, layout.kernel_runtime_start);
    const std::uint64_t kernel_high =
        std::max(layout.kernel_address + layout.kernel_size, layout.kernel_runtime_end);
    if (size > limit) {
        return make_error(BootError::initrd_does_not_fit);
    }
    std::uint64_t address = align_down(limit - size, kInitrdAlignment);
    if (overlaps(address, size, kernel_low, kernel_high - kernel_low)) {
        if (size > kernel_low) {
            return make_error(BootError::initrd_does_not_fit);
        }
        address = align_down(kernel_low - size, kInitrdAlignment);
    }
    if (address < kHighMemoryStart) {
        return make_error(BootError::initrd_does_not_fit);
    }
    layout.initrd_address = address;
    layout.initrd_size = size;
    return {};
}

}  // namespace

std::string_view to_string(BootError error)
{
    switch (error) {
        case BootError::memory_too_small: return "VM memory too small: give it at least 64 MiB";
        case BootError::memory_too_large: return "VM memory too large: at most 3 GiB for now";
        case BootError::memory_unaligned: return "VM memory must be a multiple of 4 KiB";
        case BootError::kernel_address_unusable:
            return "kernel is not relocatable and wants to load below 1 MiB";
        case BootError::kernel_does_not_fit:
            return "kernel does not fit in VM memory (it needs pref_address + init_size): "
                   "give the VM more memory";
        case BootError::initrd_does_not_fit:
            return "initrd does not fit beside the kernel in VM memory: give the VM more memory";
        case BootError::cmdline_too_long:
            return "kernel command line longer than the kernel accepts (cmdline_size)";
        case BootError::cmdline_has_nul: return "kernel command line contains a NUL character";
        case BootError::ram_too_small: return "guest RAM buffer smaller than the planned memory";
        case BootError::input_mismatch:
            return "initrd or command line differ in size from the planned layout";
    }
    return "unknown boot error";
}

Result<BootLayout, BootError> plan_layout(const BzImage& image, const BootRequest& request)
{
    BOXY_TRY(check_memory(request.memory_size));
    BootLayout layout;
    layout.memory_size = request.memory_size;
    // cmdline_size excludes the NUL ("Details of Header Fields").
    if (request.cmdline_length > image.cmdline_size() ||
        request.cmdline_length >= kCmdlineRegionSize) {
        return make_error(BootError::cmdline_too_long);
    }
    layout.cmdline_size = request.cmdline_length + 1;
    BOXY_TRY(place_kernel(image, layout));
    BOXY_TRY(place_initrd(image, request.initrd_size, layout));
    return layout;
}

Result<E820Table, BootError> build_e820(std::uint64_t memory_size)
{
    BOXY_TRY(check_memory(memory_size));
    constexpr auto kRam = static_cast<std::uint32_t>(E820Type::ram);
    constexpr auto kReserved = static_cast<std::uint32_t>(E820Type::reserved);
    E820Table table;
    const std::array<E820Entry, 6> entries{{
        {0, kLowMemoryEnd, kRam},
        {kLowMemoryEnd, kHighMemoryStart - kLowMemoryEnd, kReserved},
        {kHighMemoryStart, memory_size - kHighMemoryStart, kRam},
        {kVirtioMmioBase, kVirtioMmioWindowSize, kReserved},
        {kIoApicAddress, kApicPageSize, kReserved},
        {kLocalApicAddress, kApicPageSize, kReserved},
    }};
    std::copy(entries.begin(), entries.end(), table.entries.begin());
    table.count = entries.size();
    return table;
}

BootParams make_boot_params(const BzImage& image, const BootLayout& layout, const E820Table& e820,
                            std::uint64_t rsdp_address)
{
    BootParams params{};
    // "64-bit Boot Protocol": start from zeros and the image's setup header,
    // exactly as long as it says it is (at most the room up to 0x290).
    const std::size_t header_room = offsetof(BootParams, edd_mbr_sig_buffer) - kSetupHeaderOffset;
    const std::size_t header_length = std::min(image.header_bytes.size(), header_room);
    std::memcpy(reinterpret_cast<std::uint8_t*>(&params) + kSetupHeaderOffset,  // POD bytes
                image.header_bytes.data(), header_length);

    params.hdr.type_of_loader = kLoaderTypeUndefined;
    params.hdr.cmd_line_ptr = static_cast<std::uint32_t>(layout.cmdline_address);
    params.ext_cmd_line_ptr = static_cast<std::uint32_t>(layout.cmdline_address >> 32);
    params.hdr.ramdisk_image = static_cast<std::uint32_t>(layout.initrd_address);
    params.ext_ramdisk_image = static_cast<std::uint32_t>(layout.initrd_address >> 32);
    params.hdr.ramdisk_size = static_cast<std::uint32_t>(layout.initrd_size);
    params.ext_ramdisk_size = static_cast<std::uint32_t>(layout.initrd_size >> 32);
    params.hdr.setup_data = 0;  // no setup_data list
    params.acpi_rsdp_addr = rsdp_address;

    const std::size_t count = std::min(e820.count, kMaxE820Entries);
    std::copy_n(e820.entries.begin(), count, params.e820_table.begin());
    params.e820_entries = static_cast<std::uint8_t>(count);
    return params;
}

Result<void, BootError> load_boot_images(std::span<std::uint8_t> ram, const BzImage& image,
                                         const BootLayout& layout, ByteView initrd,
                                         std::string_view cmdline, std::uint64_t rsdp_address)
{
    if (ram.size() < layout.memory_size) {
        return make_error(BootError::ram_too_small);
    }
    if (initrd.size() != layout.initrd_size || cmdline.size() + 1 != layout.cmdline_size ||
        image.kernel.size() != layout.kernel_size) {
        return make_error(BootError::input_mismatch);
    }
    if (cmdline.find('\0') != std::string_view::npos) {
        return make_error(BootError::cmdline_has_nul);
    }
    auto e820 = build_e820(layout.memory_size);
    if (!e820) {
        return make_error(e820.error());
    }

    put_bytes(ram, layout.kernel_address, image.kernel);
    put_bytes(ram, layout.initrd_address, initrd);
    zero(ram, layout.cmdline_address, kCmdlineRegionSize);
    std::copy(cmdline.begin(), cmdline.end(),
              ram.begin() + static_cast<std::ptrdiff_t>(layout.cmdline_address));

    const BootParams params = make_boot_params(image, layout, *e820, rsdp_address);
    std::memcpy(ram.data() + layout.zero_page_address, &params, sizeof(params));
    write_gdt(ram, layout.gdt_address, layout.gdt_address + (kTssAddress - kGdtAddress));
    write_page_tables(ram, layout.page_tables_address);
    return {};
}

VcpuBootState boot_vcpu_state(const BootLayout& layout)
{
    VcpuBootState state;
    state.rip = layout.entry_point;
    state.rsi = layout.zero_page_address;
    state.rsp = kBootStackTop;
    state.rflags = kRflagsFixed;
    // Long mode needs PE, PG, PAE and EFER.LME; LMA is what the CPU would
    // report once paging is on (SDM Vol. 3, 10.8.5). ET and NE as on any
    // modern CPU (VMX requires NE).
    state.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Pg;
    state.cr3 = layout.page_tables_address;
    state.cr4 = kCr4Pae;
    state.efer = kEferLme | kEferLma;

    state.cs = segment_from(kBootCs, kGdtCode64, 0);
    state.ds = segment_from(kBootDs, kGdtData, 0);
    state.es = state.ds;
    state.ss = state.ds;
    state.fs = state.ds;
    state.gs = state.ds;
    const std::uint64_t tss = layout.gdt_address + (kTssAddress - kGdtAddress);
    state.tr = segment_from(kBootTss, tss_descriptor(tss)[0], tss);
    state.ldtr = {};  // null: unusable
    state.gdtr = {layout.gdt_address, static_cast<std::uint16_t>(kBootTss + 16 - 1)};
    state.idtr = {0, 0};  // interrupts stay off until the kernel loads its IDT
    return state;
}

}  // namespace boxy::vm
