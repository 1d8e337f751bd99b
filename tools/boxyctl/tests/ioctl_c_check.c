/* SPDX-License-Identifier: MIT */
/*
 * include/boxy/boxy_ioctl.h as strict C11, the way a C tool includes it:
 * it compiles, and the ioctl numbers encode what the header promises.
 */
#include <boxy/boxy_ioctl.h>

#include <stdio.h>

static int failures;

static void check(int ok, const char* what)
{
    if (!ok) {
        fprintf(stderr, "boxy_ioctl.h: %s\n", what);
        ++failures;
    }
}

int main(void)
{
    check(_IOC_TYPE(BOXY_IOCTL_VERSION) == BOXY_IOCTL_MAGIC, "VERSION magic");
    check(_IOC_NR(BOXY_IOCTL_VERSION) == BOXY_CALL_VERSION, "VERSION number is the call's");
    check(_IOC_DIR(BOXY_IOCTL_VERSION) == _IOC_READ, "VERSION is _IOR");
    check(_IOC_SIZE(BOXY_IOCTL_VERSION) == 24, "VERSION size");
    check(_IOC_TYPE(BOXY_IOCTL_GET_STATS) == BOXY_IOCTL_MAGIC, "GET_STATS magic");
    check(_IOC_NR(BOXY_IOCTL_GET_STATS) == BOXY_CALL_GET_STATS, "GET_STATS number is the call's");
    check(_IOC_DIR(BOXY_IOCTL_GET_STATS) == (_IOC_READ | _IOC_WRITE), "GET_STATS is _IOWR");
    check(_IOC_SIZE(BOXY_IOCTL_GET_STATS) == 544, "GET_STATS size");
    return failures == 0 ? 0 : 1;
}
