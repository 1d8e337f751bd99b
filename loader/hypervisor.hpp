// SPDX-License-Identifier: MIT
//
// Starting the embedded VMM from the loader (docs/architecture.md, "Boot
// flow"): check the CPU, reserve VMM memory the OS never reuses, load and
// relocate the image, run vmm_init() once and vmm_start_cpu() on every CPU
// through EFI_MP_SERVICES_PROTOCOL. On any failure before the first CPU is
// virtualized, nothing is left behind and the OS boots without Boxy.
#pragma once

#include "efi.hpp"

#include <string_view>

namespace boxy::loader {

enum class HypervisorResult {
    running,      // every CPU runs in the host VM
    not_started,  // Boxy is not running; the reason was printed
};

[[nodiscard]] HypervisorResult start_hypervisor(EFI_HANDLE image);

}  // namespace boxy::loader
