// SPDX-License-Identifier: MIT
#include "hypervisor.hpp"

#include "console.hpp"
#include "mp_services.hpp"

#include <arch/x64/virtualization_support.hpp>
#include <boxy/boot_protocol.hpp>

extern "C" {
extern const std::uint8_t boxy_vmm_image_start[];
extern const std::uint8_t boxy_vmm_image_end[];
std::int32_t boxy_launch(std::int32_t (*start_cpu)(boxy::LaunchContext*), boxy::LaunchContext* ctx);
}

namespace boxy::loader {
namespace {

constexpr std::string_view kPrefix = "boxy: ";
constexpr std::uint64_t kPage = 4096;
// Page pool beyond the image: nested page tables, per-CPU control blocks
// and stacks. Measured use for 4 CPUs and 4 GiB is well under 1 MiB; the
// rest is for service VMs' tables later.
constexpr std::uint64_t kPoolBytes = 8ULL << 20;
constexpr std::uint64_t kGiB = 1ULL << 30;
constexpr std::uint64_t kMaxPhysTop = 512 * kGiB;

using StartCpu = std::int32_t (*)(LaunchContext*);
using Init = std::int32_t (*)(const BootInfo*);

struct ApArgument {
    EfiMpServicesProtocol* mp;
    StartCpu start_cpu;
    volatile std::int32_t failures;
    volatile std::int32_t last_error;
};

void EFIAPI start_ap(void* argument)
{
    // Runs on each AP: no boot services here (UEFI PI Vol. 2, 13.4.2).
    auto* arg = static_cast<ApArgument*>(argument);
    UINTN number = 0;
    arg->mp->who_am_i(arg->mp, &number);
    LaunchContext ctx{0, 0, static_cast<std::uint32_t>(number), 0};
    const std::int32_t status = boxy_launch(arg->start_cpu, &ctx);
    if (status != 0) {
        __atomic_add_fetch(&arg->failures, 1, __ATOMIC_RELAXED);
        arg->last_error = status;
    }
}

// The end of the highest range in the firmware's memory map (RAM and the
// MMIO it reports), at least 4 GiB (local APIC, IOAPIC and PCI windows live
// below), rounded up to 1 GiB, at most 512 GiB.
std::uint64_t physical_top()
{
    UINTN entries = 0;
    UINTN key = 0;
    UINTN descriptor_size = 0;
    UINT32 version = 0;
    EFI_MEMORY_DESCRIPTOR* map = LibMemoryMap(&entries, &key, &descriptor_size, &version);
    std::uint64_t top = 4 * kGiB;
    if (map != nullptr) {
        for (UINTN i = 0; i < entries; ++i) {
            const auto* d = reinterpret_cast<const EFI_MEMORY_DESCRIPTOR*>(
                reinterpret_cast<const std::uint8_t*>(map) + i * descriptor_size);
            const std::uint64_t end = d->PhysicalStart + d->NumberOfPages * kPage;
            top = end > top ? end : top;
        }
        BS->FreePool(map);
    }
    top = (top + kGiB - 1) & ~(kGiB - 1);
    return top < kMaxPhysTop ? top : kMaxPhysTop;
}

// Copies the image to `base`, zeroes its .bss, applies its relocations.
bool load_image(const VmmImageHeader& header, std::uint64_t base)
{
    const auto file_size = static_cast<std::uint64_t>(boxy_vmm_image_end - boxy_vmm_image_start);
    auto* dst = reinterpret_cast<std::uint8_t*>(base);
    for (std::uint64_t i = 0; i < header.memory_size; ++i) {
        dst[i] = i < file_size ? boxy_vmm_image_start[i] : 0;
    }
    const std::uint64_t count = header.rela_size / sizeof(Elf64Rela);
    const auto* rela = reinterpret_cast<const Elf64Rela*>(base + header.rela_offset);
    for (std::uint64_t i = 0; i < count; ++i) {
        if ((rela[i].info & 0xFFFFFFFF) != kRelocX86_64Relative ||
            rela[i].offset + 8 > header.memory_size) {
            return false;
        }
        *reinterpret_cast<std::uint64_t*>(base + rela[i].offset) =
            base + static_cast<std::uint64_t>(rela[i].addend);
    }
    return true;
}

}  // namespace

HypervisorResult start_hypervisor(EFI_HANDLE /*image*/)
{
    if (const auto why = x64::missing_virtualization_feature(); !why.empty()) {
        console << kPrefix << "hypervisor not started: " << why << "; booting without Boxy\n";
        return HypervisorResult::not_started;
    }
    VmmImageHeader header{};
    const auto blob_size = static_cast<std::uint64_t>(boxy_vmm_image_end - boxy_vmm_image_start);
    if (blob_size >= sizeof header) {
        header = *reinterpret_cast<const VmmImageHeader*>(boxy_vmm_image_start);
    }
    if (header.magic != kVmmImageMagic || header.version != kVmmImageVersion ||
        header.file_size != blob_size || header.memory_size < header.file_size ||
        header.rela_offset + header.rela_size > header.file_size ||
        header.start_cpu_offset >= header.file_size || header.init_offset >= header.file_size) {
        console << kPrefix << "error: the embedded VMM image is damaged; booting without Boxy\n";
        return HypervisorResult::not_started;
    }

    EfiMpServicesProtocol* mp = nullptr;
    EFI_GUID mp_guid = BOXY_EFI_MP_SERVICES_PROTOCOL_GUID;
    UINTN cpus = 1;
    UINTN enabled = 1;
    if (!efi_failed(BS->LocateProtocol(&mp_guid, nullptr, reinterpret_cast<void**>(&mp)))) {
        mp->get_number_of_processors(mp, &cpus, &enabled);
    } else {
        mp = nullptr;
        console << kPrefix << "warning: no MP services; virtualizing this CPU only\n";
    }

    const std::uint64_t image_bytes = (header.memory_size + kPage - 1) & ~(kPage - 1);
    const std::uint64_t bytes = image_bytes + kPoolBytes + enabled * 64 * 1024;
    // EfiReservedMemoryType: the OS never uses it (UEFI 2.10, Table 7-6).
    EFI_PHYSICAL_ADDRESS base = 0;
    EFI_STATUS status =
        BS->AllocatePages(AllocateAnyPages, EfiReservedMemoryType, bytes / kPage, &base);
    if (efi_failed(status)) {
        console << kPrefix << "hypervisor not started: cannot reserve " << bytes / 1024 << " KiB: ";
        console.status(status) << "\n";
        return HypervisorResult::not_started;
    }
    if (!load_image(header, base)) {
        BS->FreePages(base, bytes / kPage);
        console << kPrefix
                << "error: the embedded VMM image has bad relocations; booting without Boxy\n";
        return HypervisorResult::not_started;
    }

    BootInfo boot{};
    boot.magic = kBootInfoMagic;
    boot.cpu_count = static_cast<std::uint32_t>(enabled);
    boot.vmm_base = base;
    boot.vmm_size = bytes;
    boot.phys_top = physical_top();
    boot.log_level = 2;
    const auto init = reinterpret_cast<Init>(base + header.init_offset);
    const auto start_cpu = reinterpret_cast<StartCpu>(base + header.start_cpu_offset);
    const std::int32_t init_status = init(&boot);
    if (init_status != 0) {
        BS->FreePages(base, bytes / kPage);
        console << kPrefix << "hypervisor not started: VMM initialisation failed (status "
                << static_cast<std::uint64_t>(init_status)
                << ", see the serial log); booting without Boxy\n";
        return HypervisorResult::not_started;
    }

    // The application processors first, the boot CPU last: once the boot
    // CPU runs in the host VM, its INIT and start-up IPIs go through the VMM,
    // which expects their targets to be virtualized already.
    std::uint32_t failed_aps = 0;
    if (mp != nullptr && enabled > 1) {
        ApArgument arg{mp, start_cpu, 0, 0};
        status = mp->startup_all_aps(mp, start_ap, FALSE, nullptr, 0, &arg, nullptr);
        failed_aps = efi_failed(status) ? static_cast<std::uint32_t>(enabled - 1)
                                        : static_cast<std::uint32_t>(arg.failures);
    }
    UINTN bsp = 0;
    if (mp != nullptr) {
        mp->who_am_i(mp, &bsp);
    }
    LaunchContext ctx{0, 0, static_cast<std::uint32_t>(bsp), 0};
    const std::int32_t bsp_status = boxy_launch(start_cpu, &ctx);
    if (bsp_status != 0) {
        // The APs that are virtualized stay so; the VMM memory stays
        // reserved for them.
        console << kPrefix << "error: the hypervisor could not start on the boot CPU (status "
                << static_cast<std::uint64_t>(bsp_status) << "); see the serial log\n";
        return HypervisorResult::not_started;
    }
    if (failed_aps != 0) {
        console << kPrefix << "error: " << static_cast<std::uint64_t>(failed_aps)
                << " application processor(s) could not be virtualized and run natively\n";
    }
    console << kPrefix << "hypervisor running on " << static_cast<std::uint64_t>(enabled)
            << " CPU(s)\n";
    return HypervisorResult::running;
}

}  // namespace boxy::loader
