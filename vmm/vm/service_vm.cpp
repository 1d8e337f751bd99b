// SPDX-License-Identifier: MIT
#include "vm/service_vm.hpp"

#include "core/log.hpp"
#include "core/vmm_state.hpp"
#include "core/xapic.hpp"

#include <new>

// Binds `name` to the value of a Result or returns its error.
#define SERVICE_TRY_ASSIGN(name, expr)                    \
    auto name##_result = (expr);                          \
    if (!name##_result) {                                 \
        return ::boxy::make_error(name##_result.error()); \
    }                                                     \
    auto name = *name##_result  // NOLINT(bugprone-macro-parentheses)

namespace boxy::vmm::service {
namespace {

using hypercall::Status;
constexpr std::uint64_t kPage = 4096;

constinit Spinlock service_lock;
// The CPU whose host made the current call, for log lines; written and
// read under service_lock only.
constinit std::uint32_t calling_cpu = 0;
constinit ServiceVm* vms[BOXY_MAX_VMS] = {};

// The host VM is identity-mapped and the VMM maps all physical memory
// 1:1, so a host-physical address is its own pointer here.
template <class T>
T* at(std::uint64_t pa)
{
    return reinterpret_cast<T*>(pa);
}

void zero_page(std::uint64_t pa)
{
    auto* p = at<volatile std::uint64_t>(pa);
    for (std::uint64_t i = 0; i < kPage / 8; ++i) {
        p[i] = 0;
    }
}

Result<std::uint64_t, Status> allocate_zeroed_page()
{
    auto page = state().pool.allocate_page();
    if (!page) {
        return make_error(Status::no_memory);
    }
    zero_page(page->raw());
    return page->raw();
}

void free_page(std::uint64_t pa)
{
    if (auto freed = state().pool.free_page(PhysAddr{pa}); !freed) {
        log::Line(log::Level::error, calling_cpu) << "service VM: freeing page " << log::Hex{pa}
                                                  << " failed: " << to_string(freed.error());
    }
}

// Host memory the host may give a VM: inside its RAM, never the VMM's
// region or the APIC page the VMM emulates for it.
bool is_donatable(std::uint64_t hpa)
{
    return hpa % kPage == 0 && hpa + kPage <= state().boot.phys_top && !is_vmm_memory(hpa, kPage) &&
           !xapic::is_apic_page(hpa);
}

Result<ServiceVm*, Status> find_vm(std::uint32_t handle)
{
    if (handle == 0 || handle > BOXY_MAX_VMS || vms[handle - 1] == nullptr) {
        return make_error(Status::no_such_vm);
    }
    return vms[handle - 1];
}

Result<Vcpu*, Status> find_vcpu(std::uint32_t handle, std::uint32_t index)
{
    SERVICE_TRY_ASSIGN(vm, find_vm(handle));
    if (index >= vm->vcpu_count || vm->vcpus[index] == nullptr) {
        return make_error(Status::no_such_vcpu);
    }
    return vm->vcpus[index];
}

const ServiceVmOps& ops()
{
    return *state().backend->service_vms;
}

Result<std::uint64_t, Status> vm_create(const hypercall::VmCreateArgs& args)
{
    std::uint32_t slot = BOXY_MAX_VMS;
    for (std::uint32_t i = 0; i < BOXY_MAX_VMS; ++i) {
        if (vms[i] == nullptr) {
            slot = i;
            break;
        }
    }
    if (slot == BOXY_MAX_VMS) {
        return make_error(Status::busy);
    }
    const std::uint64_t free_before = state().pool.free_pages().count();
    SERVICE_TRY_ASSIGN(page, allocate_zeroed_page());
    auto npt = NestedPageTable<NptEntry>::create(state().pool, PageSize::size_2m);
    if (!npt) {
        free_page(page);
        return make_error(Status::no_memory);
    }
    auto* vm = new (at<void>(page)) ServiceVm{};
    vm->handle = slot + 1;
    vm->vcpu_count = args.vcpu_count;
    vm->memory_size = args.memory_size;
    // ASID 1 is the host VM's on every CPU; each VM gets its own, so no
    // CPU mixes their translations (APM Vol. 2, 15.16).
    vm->asid = 2 + slot;
    vm->npt = *npt;
    vms[slot] = vm;
    log::Line(log::Level::info, calling_cpu)
        << "service VM " << vm->handle << " created: " << (args.memory_size >> 10) << " KiB, "
        << args.vcpu_count << " vCPUs; pool pages free before: " << free_before;
    return std::uint64_t{vm->handle};
}

// Zeroes and unmaps [gpa, gpa + pages * 4 KiB); every page must be mapped.
Result<void, Status> reclaim(ServiceVm& vm, std::uint64_t gpa, std::uint64_t pages)
{
    for (std::uint64_t i = 0; i < pages; ++i) {
        if (!translate(vm, gpa + i * kPage)) {
            return make_error(Status::invalid_argument);
        }
    }
    for (std::uint64_t i = 0; i < pages; ++i) {
        zero_page(*translate(vm, gpa + i * kPage));
    }
    if (!vm.npt.unmap(PhysRange{PhysAddr{gpa}, pages * kPage})) {
        return make_error(Status::no_memory);  // splitting a 2 MiB leaf needs a table
    }
    vm.mapped_pages -= pages;
    return {};
}

Result<void, Status> vm_destroy(std::uint32_t handle)
{
    SERVICE_TRY_ASSIGN(vm, find_vm(handle));
    if (vm->running != 0) {
        return make_error(Status::busy);
    }
    // Whatever the host did not reclaim yet is scrubbed here, 2 MiB at a time
    // (a 2 MiB leaf is zeroed whole and unmapped without a split).
    for (std::uint64_t gpa = 0; gpa < vm->memory_size && vm->mapped_pages != 0; gpa += kPage) {
        if (auto t = translate(*vm, gpa); t) {
            zero_page(*t);
            --vm->mapped_pages;
        }
    }
    if (auto freed = vm->npt.destroy(); !freed) {
        log::Line(log::Level::error, calling_cpu)
            << "service VM " << handle << ": freeing its nested page tables failed";
    }
    for (auto* vcpu : vm->vcpus) {
        if (vcpu != nullptr) {
            free_page(vcpu->control_pa);
            free_page(reinterpret_cast<std::uint64_t>(vcpu));
        }
    }
    vms[handle - 1] = nullptr;
    free_page(reinterpret_cast<std::uint64_t>(vm));
    log::Line(log::Level::info, calling_cpu)
        << "service VM " << handle << " destroyed; " << state().pool.free_pages().count()
        << " pool pages free";
    return {};
}

Result<void, Status> donate(const hypercall::DonateArgs& args)
{
    SERVICE_TRY_ASSIGN(vm, find_vm(args.vm));
    if (vm->running != 0) {
        return make_error(Status::busy);
    }
    if (args.gpa + std::uint64_t{args.pages} * kPage > vm->memory_size) {
        return make_error(Status::bad_address);
    }
    // Copy the list first: the host could change it while we map. Not on
    // the stack (4 KiB): one buffer, which service_lock serialises.
    static constinit std::uint64_t list[BOXY_DONATE_MAX_PAGES] = {};
    const auto* host_list = at<const volatile std::uint64_t>(args.list_gpa);
    for (std::uint32_t i = 0; i < args.pages; ++i) {
        list[i] = host_list[i];
        if (!is_donatable(list[i])) {
            return make_error(Status::bad_address);
        }
        if (translate(*vm, args.gpa + i * kPage)) {
            return make_error(Status::exists);
        }
    }
    // Map host-contiguous runs as one range, so aligned 2 MiB stretches
    // become 2 MiB leaves.
    std::uint32_t first = 0;
    while (first < args.pages) {
        std::uint32_t end = first + 1;
        while (end < args.pages && list[end] == list[end - 1] + kPage) {
            ++end;
        }
        const PhysRange guest{PhysAddr{args.gpa + first * kPage}, (end - first) * kPage};
        if (!vm->npt.map(guest, PhysAddr{list[first]}, MemoryType::write_back)) {
            // Undo this call's mappings: on an error nothing stays mapped.
            if (first != 0) {
                (void)vm->npt.unmap(PhysRange{PhysAddr{args.gpa}, first * kPage});
            }
            return make_error(Status::no_memory);
        }
        first = end;
    }
    vm->mapped_pages += args.pages;
    return {};
}

Result<void, Status> vcpu_create(const hypercall::VcpuArgs& args)
{
    SERVICE_TRY_ASSIGN(vm, find_vm(args.vm));
    if (args.vcpu >= vm->vcpu_count) {
        return make_error(Status::no_such_vcpu);
    }
    if (vm->vcpus[args.vcpu] != nullptr) {
        return make_error(Status::exists);
    }
    static_assert(sizeof(Vcpu) <= kPage);
    SERVICE_TRY_ASSIGN(page, allocate_zeroed_page());
    auto control = allocate_zeroed_page();
    if (!control) {
        free_page(page);
        return make_error(control.error());
    }
    LapicConfig config{};
    config.x2apic_id = args.vcpu;
    config.bootstrap_processor = args.vcpu == 0;
    auto* vcpu = new (at<void>(page)) Vcpu{.lapic = Lapic{config}};
    vcpu->control_pa = *control;
    vcpu->vm = vm;
    vcpu->index = args.vcpu;
    vcpu->run_page_pa = args.buffer;
    vcpu->mp_state = args.vcpu == 0 ? BOXY_MP_RUNNABLE : BOXY_MP_WAIT_FOR_SIPI;
    // FXSAVE image after FNINIT: FCW 0x37F, MXCSR 0x1F80 (SDM Vol. 1, 10.5.1).
    vcpu->fpu[0] = 0x7F;
    vcpu->fpu[1] = 0x03;
    vcpu->fpu[24] = 0x80;
    vcpu->fpu[25] = 0x1F;
    ops().vcpu_init(*vcpu);
    __atomic_store_n(&vm->vcpus[args.vcpu], vcpu, __ATOMIC_RELEASE);
    return {};
}

Result<void, Status> claim(Vcpu& vcpu)
{
    if (vcpu.running != 0) {
        return make_error(Status::busy);
    }
    vcpu.running = 1;
    ++vcpu.vm->running;
    return {};
}

void release(Vcpu& vcpu)
{
    SpinlockGuard guard{service_lock};
    vcpu.running = 0;
    --vcpu.vm->running;
}

Result<void, Status> set_regs(const hypercall::VcpuArgs& args, bool write)
{
    SERVICE_TRY_ASSIGN(vcpu, find_vcpu(args.vm, args.vcpu));
    if (vcpu->running != 0) {
        return make_error(Status::busy);
    }
    auto* host = at<boxy_vcpu_regs>(args.buffer);
    if (!write) {
        boxy_vcpu_regs out{};
        ops().get_regs(*vcpu, out);
        *host = out;
        return {};
    }
    const boxy_vcpu_regs in = *host;  // one copy: the host may change its buffer
    if (in.reserved != 0 || in.mp_state > BOXY_MP_WAIT_FOR_SIPI) {
        return make_error(Status::invalid_argument);
    }
    const Status status = ops().set_regs(*vcpu, in);
    if (status != Status::ok) {
        return make_error(status);
    }
    vcpu->mp_state = in.mp_state;
    vcpu->pending = PendingCompletion::none;
    return {};
}

Result<void, Status> inject(const hypercall::InjectArgs& args)
{
    SERVICE_TRY_ASSIGN(vcpu, find_vcpu(args.vm, args.vcpu));
    SpinlockGuard guard{vcpu->apic_lock};
    (void)vcpu->lapic.accept(args.vector, args.level);
    return {};
}

template <class F>
void complete(hypercall::HypercallRegisters& regs, F&& body)
{
    auto result = body();
    regs.rax = result ? BOXY_STATUS_OK : static_cast<std::uint64_t>(result.error());
}

}  // namespace

Result<std::uint64_t, MemoryError> translate(const ServiceVm& vm, std::uint64_t gpa)
{
    SERVICE_TRY_ASSIGN(t, vm.npt.translate(PhysAddr{gpa}));
    return t.address.raw();
}

void invoke(PerCpu& cpu, const hypercall::DecodedCall& call, hypercall::HypercallRegisters& regs)
{
    using hypercall::Call;
    if (call.call == Call::vcpu_run) {
        Vcpu* vcpu = nullptr;
        {
            SpinlockGuard guard{service_lock};
            auto found = find_vcpu(call.args.vcpu.vm, call.args.vcpu.vcpu);
            if (!found || !claim(**found)) {
                regs.rax = static_cast<std::uint64_t>(!found ? found.error() : Status::busy);
                return;
            }
            vcpu = *found;
        }
        regs.rdi = ops().run(cpu, *vcpu);
        regs.rax = BOXY_STATUS_OK;
        release(*vcpu);
        return;
    }
    SpinlockGuard guard{service_lock};
    calling_cpu = cpu.index;
    switch (call.call) {
        case Call::vm_create: {
            auto handle = vm_create(call.args.vm_create);
            regs.rax = handle ? BOXY_STATUS_OK : static_cast<std::uint64_t>(handle.error());
            regs.rdi = handle ? *handle : 0;
            return;
        }
        case Call::vm_destroy: complete(regs, [&] { return vm_destroy(call.args.vm.vm); }); return;
        case Call::memory_donate: complete(regs, [&] { return donate(call.args.donate); }); return;
        case Call::memory_reclaim:
            complete(regs, [&]() -> Result<void, Status> {
                SERVICE_TRY_ASSIGN(vm, find_vm(call.args.reclaim.vm));
                if (vm->running != 0) {
                    return make_error(Status::busy);
                }
                return reclaim(*vm, call.args.reclaim.gpa, call.args.reclaim.pages);
            });
            return;
        case Call::vcpu_create: complete(regs, [&] { return vcpu_create(call.args.vcpu); }); return;
        case Call::vcpu_set_regs:
            complete(regs, [&] { return set_regs(call.args.vcpu, true); });
            return;
        case Call::vcpu_get_regs:
            complete(regs, [&] { return set_regs(call.args.vcpu, false); });
            return;
        case Call::inject_interrupt:
            complete(regs, [&] { return inject(call.args.inject); });
            return;
        default: regs.rax = BOXY_STATUS_UNKNOWN_CALL; return;
    }
}

std::uint64_t route_ipi(Vcpu& sender, const IpiRequest& ipi)
{
    ServiceVm& vm = *sender.vm;
    std::uint64_t kick = 0;
    for (std::uint32_t i = 0; i < vm.vcpu_count; ++i) {
        Vcpu* target = __atomic_load_n(&vm.vcpus[i], __ATOMIC_ACQUIRE);
        if (target == nullptr || !ipi.targets(target->index)) {
            continue;
        }
        SpinlockGuard guard{target->apic_lock};
        switch (ipi.delivery) {
            case IpiDelivery::fixed:
            case IpiDelivery::lowest_priority: (void)target->lapic.accept(ipi.vector, false); break;
            case IpiDelivery::init:
                // INIT cancels a start-up IPI that came before it.
                target->init_pending = true;
                target->sipi_pending = false;
                break;
            case IpiDelivery::startup:
                target->sipi_pending = true;
                target->sipi_vector = ipi.vector;
                break;
            default: break;  // NMI, SMI: not delivered to service VMs
        }
        if (target != &sender) {
            kick |= std::uint64_t{1} << i;
        }
    }
    return kick;
}

}  // namespace boxy::vmm::service
