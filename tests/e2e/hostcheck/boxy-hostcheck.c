// SPDX-License-Identifier: MIT
//
// boxy-hostcheck: runs inside a test host's initramfs and reports, for every
// online CPU (pinned with sched_setaffinity), what CPUID shows: Boxy's
// signature at leaf 0x40000000, the hypervisor-present bit, and whether
// SVM/VMX is visible. Built static, so it runs on busybox alone.
//
//   boxy-hostcheck --expect boxy|native --cpus N
//     exit 0 iff N CPUs are online and every one is under Boxy with SVM/VMX
//     hidden (boxy), or none shows Boxy (native)
#define _GNU_SOURCE
#include <cpuid.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cpu_view {
    char signature[13];
    int hypervisor_bit;
    int svm;
    int vmx;
};

static void look(struct cpu_view* v)
{
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    v->hypervisor_bit = (c >> 31) & 1;
    v->vmx = (c >> 5) & 1;
    __cpuid(0x80000001, a, b, c, d);
    v->svm = (c >> 2) & 1;
    memset(v->signature, 0, sizeof v->signature);
    if (v->hypervisor_bit) {
        __cpuid(0x40000000, a, b, c, d);
        memcpy(v->signature + 0, &b, 4);
        memcpy(v->signature + 4, &c, 4);
        memcpy(v->signature + 8, &d, 4);
    }
}

int main(int argc, char** argv)
{
    const char* expect = argc == 5 && strcmp(argv[1], "--expect") == 0 ? argv[2] : NULL;
    const long wanted = argc == 5 && strcmp(argv[3], "--cpus") == 0 ? atol(argv[4]) : 0;
    if (expect == NULL || wanted <= 0 ||
        (strcmp(expect, "boxy") != 0 && strcmp(expect, "native") != 0)) {
        fprintf(stderr, "usage: boxy-hostcheck --expect boxy|native --cpus N\n");
        return 2;
    }
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("hostcheck: %ld CPUs online, %ld expected\n", cpus, wanted);
    int good = 0;
    for (long cpu = 0; cpu < cpus; ++cpu) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0) {
            printf("hostcheck: cpu%ld: cannot pin: %m\n", cpu);
            continue;
        }
        struct cpu_view v;
        look(&v);
        const int boxy = strcmp(v.signature, "BoxyBoxyBoxy") == 0;
        printf("hostcheck: cpu%ld: signature='%s' hypervisor-bit=%d svm=%d vmx=%d -> %s\n", cpu,
               v.signature, v.hypervisor_bit, v.svm, v.vmx, boxy ? "boxy" : "native");
        if (strcmp(expect, "boxy") == 0 ? (boxy && !v.svm && !v.vmx) : !boxy) {
            ++good;
        }
    }
    printf("hostcheck: %d of %ld CPUs as expected (%s)\n", good, cpus, expect);
    return good == cpus && cpus == wanted ? 0 : 1;
}
