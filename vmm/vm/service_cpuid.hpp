// SPDX-License-Identifier: MIT
//
// CPUID as a service VM sees it: the host CPU's answers filtered to what the
// VMM virtualizes for a service VM (design.md, "Service VMs"). Pure logic
// over a host CPUID source, so that host tests can feed any CPU.
//
// Policy, feature by feature (the why is next to each mask in the .cpp):
//   - kept: the instruction-set features a guest can use without VMM help
//     (SSE up to 4.2, AES, POPCNT, BMI, SMEP/SMAP, FSGSBASE, 1 GiB pages...);
//   - hidden: what needs state the VMM does not switch between the host and
//     the VM (XSAVE and everything built on it: AVX, AVX-512, PKU; RDTSCP and
//     RDPID, which read IA32_TSC_AUX), what has no virtual device (MCE, PMU,
//     thermal, MONITOR/MWAIT, MTRR), and the virtualization extensions;
//   - added: x2APIC and the TSC-deadline timer (the VMM's local APIC), the
//     hypervisor bit, the topology of the VM's vCPUs.
//   - Leaf 0x40000000 carries KVM's signature with no KVM features: Linux
//     enables x2APIC without interrupt remapping only under a hypervisor it
//     knows (arch/x86/kernel/apic/apic.c, try_to_enable_x2apic), and with no
//     feature bits it uses no KVM paravirtual interface. Boxy's own identity
//     follows at 0x40000100 (docs/adr-005-service-vm-cpu-model.md).
#pragma once
#include <cstdint>

namespace boxy::vmm {

struct CpuidResult {
    std::uint32_t eax, ebx, ecx, edx;
};

// The host's CPUID, as the VMM reads it with the CPUID instruction.
using HostCpuid = CpuidResult (*)(std::uint32_t leaf, std::uint32_t subleaf);

struct ServiceCpuidContext {
    std::uint32_t vcpu_index;  // also its x2APIC ID
    std::uint32_t vcpu_count;
    HostCpuid host;
};

inline constexpr std::uint32_t kServiceKvmLeaf = 0x40000000;
inline constexpr std::uint32_t kServiceBoxyLeaf = 0x40000100;

[[nodiscard]] CpuidResult service_cpuid(std::uint32_t leaf, std::uint32_t subleaf,
                                        const ServiceCpuidContext& ctx);

}  // namespace boxy::vmm
