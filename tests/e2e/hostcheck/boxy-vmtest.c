// SPDX-License-Identifier: MIT
//
// boxy-vmtest: drives one tiny service VM through /dev/boxy with no per-VM
// process in between, so that the ABI, boxy.ko and the VMM's run loop are
// tested on their own (issue 5). Built static for the busybox initramfs.
//
// The guest is 16-bit real-mode code in 64 KiB of donated memory. It does,
// in order: OUT 0x42 to 0x3F8; IN from 0x3F8 (the test answers 0x5A),
// stores it to RAM and OUTs it back; an MMIO load at 0x20000 (beyond its
// RAM; the test answers 0x77) and OUTs it; an MMIO store of 0x99 to
// 0x20010; CPUID 0x40000000 and OUTs EBX's low byte ('K' of "KVMK"); HLT
// with interrupts off (the test's alarm signal ends the wait: -EINTR);
// 1000 OUTs in a row (each one exit to the test); a spin with interrupts
// off (physical interrupts still end RUN, the alarm ends it with -EINTR,
// and the test moves RIP past it); then LIDT with limit 0 and INT3, a
// triple fault. Each step is checked
// against the run page; then the VM's memory must have been zeroed.
//
// Also checks refusals: bad VM_CREATE sizes, overlapping SET_MEMORY, a vCPU
// index out of range, a vector below 32, and a second RUN after SHUTDOWN.
// Prints "vmtest: PASS" and exits 0, or "vmtest: FAIL ..." and exits 1.
#define _GNU_SOURCE
#include <boxy/boxy_ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_SIZE 0x10000u
#define CODE_ADDRESS 0x1000u

static int failures;

#define CHECK(cond, ...)                                        \
    do {                                                        \
        if (!(cond)) {                                          \
            printf("vmtest: FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                                \
            printf("\n");                                       \
            ++failures;                                         \
        }                                                       \
    } while (0)

static const unsigned char guest_code[] = {
    0xBA, 0xF8, 0x03,                    // mov dx, 0x3f8
    0xB0, 0x42,                          // mov al, 0x42
    0xEE,                                // out dx, al
    0xEC,                                // in al, dx
    0xA2, 0x00, 0x20,                    // mov [0x2000], al
    0xEE,                                // out dx, al
    0xB8, 0x00, 0x20,                    // mov ax, 0x2000
    0x8E, 0xD8,                          // mov ds, ax
    0xA0, 0x00, 0x00,                    // mov al, [0x0000]     (gpa 0x20000)
    0xEE,                                // out dx, al
    0xC6, 0x06, 0x10, 0x00, 0x99,        // mov byte [0x0010], 0x99 (gpa 0x20010)
    0x31, 0xC0,                          // xor ax, ax
    0x8E, 0xD8,                          // mov ds, ax
    0x66, 0xB8, 0x00, 0x00, 0x00, 0x40,  // mov eax, 0x40000000
    0x0F, 0xA2,                          // cpuid
    0xBA, 0xF8, 0x03,                    // mov dx, 0x3f8 (CPUID wrote EDX)
    0x88, 0xD8,                          // mov al, bl
    0xEE,                                // out dx, al
    0xF4,                                // hlt (IF = 0)
    0xB9, 0xE8, 0x03,                    // mov cx, 1000
    0xEE,                                // hammer: out dx, al
    0xE2, 0xFD,                          //         loop hammer
    0xFA,                                // cli
    0xEB, 0xFE,                          // spin: jmp spin (IF = 0, forever)
    0x0F, 0x01, 0x1E, 0x00, 0x30,        // lidt [0x3000]  (limit 0)
    0xCC,                                // int3: #GP, #DF, shutdown
};

static void on_alarm(int sig)
{
    (void)sig;
}

static struct boxy_segment real_mode_segment(unsigned short attrib)
{
    struct boxy_segment s = {0, attrib, 0xFFFF, 0};
    return s;
}

static int run(int vcpu, volatile struct boxy_vcpu_run* r, unsigned expect_reason, const char* step)
{
    int rc = ioctl(vcpu, BOXY_IOCTL_RUN, 0);
    CHECK(rc == 0, "%s: RUN failed: %s", step, strerror(errno));
    CHECK(r->exit_reason == expect_reason, "%s: exit reason %u, expected %u", step, r->exit_reason,
          expect_reason);
    return rc;
}

static void expect_io(int vcpu, volatile struct boxy_vcpu_run* r, int in, unsigned data,
                      const char* step)
{
    run(vcpu, r, BOXY_VM_EXIT_IO, step);
    CHECK(r->u.io.port == 0x3F8 && r->u.io.size == 1 && r->u.io.in == in,
          "%s: io port %#x size %u in %u", step, r->u.io.port, r->u.io.size, r->u.io.in);
    if (!in) {
        CHECK(r->u.io.data == data, "%s: OUT data %#x, expected %#x", step, r->u.io.data, data);
    } else {
        r->u.io.data = data;
    }
    printf("vmtest: %s ok\n", step);
}

static void refusals(int dev)
{
    struct boxy_ioctl_vm_create bad = {.memory_size = 4097, .vcpu_count = 1};
    CHECK(ioctl(dev, BOXY_IOCTL_VM_CREATE, &bad) < 0 && errno == EINVAL,
          "VM_CREATE with an unaligned size was not refused with EINVAL");
    bad.memory_size = RAM_SIZE;
    bad.vcpu_count = 0;
    CHECK(ioctl(dev, BOXY_IOCTL_VM_CREATE, &bad) < 0 && errno == EINVAL,
          "VM_CREATE with no vCPUs was not refused with EINVAL");
    bad.vcpu_count = 1;
    bad.flags = 1;
    CHECK(ioctl(dev, BOXY_IOCTL_VM_CREATE, &bad) < 0 && errno == EINVAL,
          "VM_CREATE with unknown flags was not refused with EINVAL");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int dev = open("/dev/boxy", O_RDWR | O_CLOEXEC);
    if (dev < 0) {
        printf("vmtest: FAIL cannot open /dev/boxy: %s\n", strerror(errno));
        return 1;
    }
    refusals(dev);

    struct boxy_ioctl_vm_create create = {.memory_size = RAM_SIZE, .vcpu_count = 1};
    int vm = ioctl(dev, BOXY_IOCTL_VM_CREATE, &create);
    if (vm < 0) {
        printf("vmtest: FAIL VM_CREATE: %s\n", strerror(errno));
        return 1;
    }
    printf("vmtest: VM %u created, host TSC %llu kHz\n", create.handle,
           (unsigned long long)create.tsc_khz);

    unsigned char* ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    CHECK(ram != MAP_FAILED, "mmap of guest RAM failed");
    memcpy(ram + CODE_ADDRESS, guest_code, sizeof guest_code);
    struct boxy_ioctl_memory memory = {0, RAM_SIZE, (unsigned long)ram, 0};
    CHECK(ioctl(vm, BOXY_IOCTL_SET_MEMORY, &memory) == 0, "SET_MEMORY: %s", strerror(errno));
    struct boxy_ioctl_memory overlap = {0x8000, 0x1000, (unsigned long)ram, 0};
    CHECK(ioctl(vm, BOXY_IOCTL_SET_MEMORY, &overlap) < 0 && errno == EEXIST,
          "overlapping SET_MEMORY was not refused with EEXIST (%s)", strerror(errno));

    CHECK(ioctl(vm, BOXY_IOCTL_VCPU_CREATE, 1) < 0, "a second vCPU of a 1-vCPU VM was created");
    int vcpu = ioctl(vm, BOXY_IOCTL_VCPU_CREATE, 0);
    if (vcpu < 0) {
        printf("vmtest: FAIL VCPU_CREATE: %s\n", strerror(errno));
        return 1;
    }
    volatile struct boxy_vcpu_run* r =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (r == MAP_FAILED) {
        printf("vmtest: FAIL mmap of the run page: %s\n", strerror(errno));
        return 1;
    }

    struct boxy_vcpu_regs regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = CODE_ADDRESS;
    regs.rflags = 2;
    regs.cr0 = 0x10;  // ET; real mode
    regs.pat = 0x0007040600070406ull;
    regs.cs = real_mode_segment(0x9B);
    regs.ds = regs.es = regs.fs = regs.gs = regs.ss = real_mode_segment(0x93);
    regs.tr = real_mode_segment(0x8B);
    regs.ldtr = real_mode_segment(0x82);
    regs.gdtr.limit = regs.idtr.limit = 0xFFFF;
    CHECK(ioctl(vcpu, BOXY_IOCTL_SET_REGS, &regs) == 0, "SET_REGS: %s", strerror(errno));
    struct boxy_ioctl_interrupt low = {0, 5, 0, 0};
    CHECK(ioctl(vm, BOXY_IOCTL_INJECT, &low) < 0 && errno == EINVAL,
          "INJECT of vector 5 was not refused with EINVAL");

    expect_io(vcpu, r, 0, 0x42, "OUT 0x42");
    expect_io(vcpu, r, 1, 0x5A, "IN (answered 0x5A)");
    expect_io(vcpu, r, 0, 0x5A, "the IN value came back");
    CHECK(ram[0x2000] == 0x5A, "guest store to its RAM not visible in the shared mapping");

    run(vcpu, r, BOXY_VM_EXIT_MMIO, "MMIO load");
    CHECK(r->u.mmio.gpa == 0x20000 && r->u.mmio.size == 1 && !r->u.mmio.write,
          "MMIO load: gpa %#llx size %u write %u", (unsigned long long)r->u.mmio.gpa,
          r->u.mmio.size, r->u.mmio.write);
    r->u.mmio.data = 0x77;
    printf("vmtest: MMIO load ok\n");
    expect_io(vcpu, r, 0, 0x77, "the MMIO value came back");
    run(vcpu, r, BOXY_VM_EXIT_MMIO, "MMIO store");
    CHECK(r->u.mmio.gpa == 0x20010 && r->u.mmio.write && r->u.mmio.data == 0x99,
          "MMIO store: gpa %#llx write %u data %#llx", (unsigned long long)r->u.mmio.gpa,
          r->u.mmio.write, (unsigned long long)r->u.mmio.data);
    printf("vmtest: MMIO store ok\n");
    expect_io(vcpu, r, 0, 'K', "CPUID 0x40000000 (KVM signature)");

    // HLT with IF=0: the thread sleeps until a signal ends RUN.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(2);
    int rc = ioctl(vcpu, BOXY_IOCTL_RUN, 0);
    CHECK(rc < 0 && errno == EINTR, "HLT with IF=0: RUN returned %d (%s), expected EINTR", rc,
          strerror(errno));
    struct boxy_vcpu_regs after;
    CHECK(ioctl(vcpu, BOXY_IOCTL_GET_REGS, &after) == 0, "GET_REGS: %s", strerror(errno));
    const unsigned long after_hlt = CODE_ADDRESS + sizeof guest_code - 15;
    CHECK(after.rip == after_hlt, "after HLT: rip %#llx, expected %#lx",
          (unsigned long long)after.rip, after_hlt);
    printf("vmtest: HLT slept until a signal ok\n");

    // A guest hammering port I/O: every access is one exit to this thread.
    for (int i = 0; i < 1000; ++i) {
        if (ioctl(vcpu, BOXY_IOCTL_RUN, 0) != 0 || r->exit_reason != BOXY_VM_EXIT_IO) {
            CHECK(0, "OUT %d of 1000: RUN %s, exit reason %u", i, strerror(errno), r->exit_reason);
            break;
        }
    }
    printf("vmtest: 1000 OUTs in a row ok\n");

    // Spinning with IF=0 keeps neither the CPU nor the host: physical
    // interrupts exit the guest, so the alarm's signal ends RUN.
    const unsigned long long interrupts = r->exits_by_reason[BOXY_EXIT_INTERRUPT];
    alarm(2);
    rc = ioctl(vcpu, BOXY_IOCTL_RUN, 0);
    CHECK(rc < 0 && errno == EINTR, "spin with IF=0: RUN returned %d (%s), expected EINTR", rc,
          strerror(errno));
    CHECK(r->exits_by_reason[BOXY_EXIT_INTERRUPT] > interrupts,
          "spin with IF=0: no physical interrupt ended a VMRUN");
    CHECK(ioctl(vcpu, BOXY_IOCTL_GET_REGS, &after) == 0, "GET_REGS: %s", strerror(errno));
    const unsigned long spin = CODE_ADDRESS + sizeof guest_code - 8;
    CHECK(after.rip == spin && (after.rflags & 0x200) == 0, "spin: rip %#llx rflags %#llx",
          (unsigned long long)after.rip, (unsigned long long)after.rflags);
    printf("vmtest: spin with IF=0 ended by a signal ok (%llu physical interrupts meanwhile)\n",
           (unsigned long long)(r->exits_by_reason[BOXY_EXIT_INTERRUPT] - interrupts));
    after.rip = spin + 2;
    CHECK(ioctl(vcpu, BOXY_IOCTL_SET_REGS, &after) == 0, "SET_REGS past the spin: %s",
          strerror(errno));

    run(vcpu, r, BOXY_VM_EXIT_SHUTDOWN, "triple fault");
    run(vcpu, r, BOXY_VM_EXIT_SHUTDOWN, "RUN after shutdown");
    printf(
        "vmtest: triple fault ok: %llu exits, %llu to the host (io %llu, npf %llu, cpuid %llu, "
        "hlt %llu, interrupt %llu, shutdown %llu)\n",
        (unsigned long long)r->exits, (unsigned long long)r->host_exits,
        (unsigned long long)r->exits_by_reason[BOXY_EXIT_IO],
        (unsigned long long)r->exits_by_reason[BOXY_EXIT_NESTED_PAGE_FAULT],
        (unsigned long long)r->exits_by_reason[BOXY_EXIT_CPUID],
        (unsigned long long)r->exits_by_reason[BOXY_EXIT_HLT],
        (unsigned long long)r->exits_by_reason[BOXY_EXIT_INTERRUPT],
        (unsigned long long)r->exits_by_reason[BOXY_EXIT_SHUTDOWN]);

    munmap((void*)r, 4096);
    close(vcpu);
    close(vm);
    // The VM is gone: its memory was zeroed before the host got it back.
    size_t dirty = 0;
    for (size_t i = 0; i < RAM_SIZE; ++i) {
        dirty += ram[i] != 0;
    }
    CHECK(dirty == 0, "%zu bytes of the destroyed VM's memory were not scrubbed", dirty);
    printf("vmtest: memory scrubbed after destroy ok\n");
    close(dev);
    if (failures != 0) {
        printf("vmtest: FAIL (%d checks)\n", failures);
        return 1;
    }
    printf("vmtest: PASS\n");
    return 0;
}
