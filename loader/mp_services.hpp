// SPDX-License-Identifier: MIT
//
// EFI_MP_SERVICES_PROTOCOL (UEFI PI Specification 1.7, Vol. 2, 13.4), which
// gnu-efi's headers lack. Every member is called with the Microsoft ABI.
#pragma once

#include "efi.hpp"

namespace boxy::loader {

#define BOXY_EFI_MP_SERVICES_PROTOCOL_GUID                 \
    {                                                      \
        0x3fdda605, 0xa76e, 0x4f46,                        \
        {                                                  \
            0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08 \
        }                                                  \
    }

using EfiApProcedure = void(EFIAPI*)(void* argument);

struct EfiMpServicesProtocol {
    EFI_STATUS(EFIAPI* get_number_of_processors)
    (EfiMpServicesProtocol* self, UINTN* count, UINTN* enabled);
    void* get_processor_info;
    EFI_STATUS(EFIAPI* startup_all_aps)
    (EfiMpServicesProtocol* self, EfiApProcedure procedure, BOOLEAN single_thread,
     EFI_EVENT wait_event, UINTN timeout_us, void* argument, UINTN** failed_cpus);
    void* startup_this_ap;
    void* switch_bsp;
    void* enable_disable_ap;
    EFI_STATUS(EFIAPI* who_am_i)(EfiMpServicesProtocol* self, UINTN* processor_number);
};

}  // namespace boxy::loader
