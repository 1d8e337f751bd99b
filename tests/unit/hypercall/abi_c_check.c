/* SPDX-License-Identifier: MIT */
/*
 * include/boxy/abi.h as a C11 user sees it (host tools): it must compile
 * with -std=c11 -pedantic -Werror, and its constants must mean what
 * docs/abi.md says. Exits non-zero on a mismatch.
 */
#include <boxy/abi.h>

#include <stdio.h>
#include <string.h>

static int check(int ok, const char* what)
{
    if (!ok) {
        fprintf(stderr, "abi.h as C: %s\n", what);
    }
    return ok ? 0 : 1;
}

int main(void)
{
    const boxy_u32 words[3] = {BOXY_CPUID_SIGNATURE_EBX, BOXY_CPUID_SIGNATURE_ECX,
                               BOXY_CPUID_SIGNATURE_EDX};
    char signature[13] = {0};
    struct boxy_cpu_stats stats;
    int failures = 0;

    memcpy(signature, words, sizeof words);
    failures += check(strcmp(signature, "BoxyBoxyBoxy") == 0, "CPUID signature");
    failures += check(sizeof stats == 24 + 8 * BOXY_STATS_MAX_REASONS, "boxy_cpu_stats size");
    failures += check(BOXY_ABI_VERSION_MAJOR_OF(BOXY_ABI_VERSION) == BOXY_ABI_VERSION_MAJOR &&
                          BOXY_ABI_VERSION_MINOR_OF(BOXY_ABI_VERSION) == BOXY_ABI_VERSION_MINOR,
                      "version packing");
    failures += check(BOXY_STATUS_OK == 0, "status OK is zero");
    return failures;
}
