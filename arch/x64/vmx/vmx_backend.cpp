// SPDX-License-Identifier: MIT
//
// The Intel VT-x backend's entry in the core's backend table. Until the
// VMX run loop lands, Boxy refuses Intel CPUs with a message that says so.
#include "core/backend.hpp"

namespace boxy::vmm {
namespace {

std::string_view unsupported()
{
    return "the VT-x backend is not available in this build";
}

VmmStatus init(VmmState& /*s*/, const IdentityMapConfig& /*host_map*/)
{
    return VmmStatus::unsupported_cpu;
}

VmmStatus prepare_cpu(PerCpu& /*cpu*/, const LaunchContext& /*ctx*/, std::uint64_t /*rflags*/)
{
    return VmmStatus::unsupported_cpu;
}

[[noreturn]] void run(PerCpu& /*cpu*/)
{
    for (;;) {
        asm volatile("cli; hlt");
    }
}

}  // namespace

const Backend& vmx_backend()
{
    static constexpr Backend backend{"VT-x", unsupported, init, prepare_cpu, run};
    return backend;
}

}  // namespace boxy::vmm
