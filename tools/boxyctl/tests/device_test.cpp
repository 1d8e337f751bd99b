// SPDX-License-Identifier: MIT
//
// The real /dev/boxy path, where no Boxy is: opening fails the way users
// see it, and a file that is not Boxy's answers ENOTTY.
#include "device.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

using boxy::boxyctl::describe_ioctl_error;
using boxy::boxyctl::describe_open_error;
using boxy::boxyctl::open_device;

TEST_CASE("device: a missing node says to load boxy.ko")
{
    const auto device = open_device("/nonexistent/boxy");
    REQUIRE_FALSE(device);
    CHECK(device.error().message ==
          "cannot open /nonexistent/boxy: No such file or directory — is boxy.ko loaded? "
          "(modprobe boxy)");
}

TEST_CASE("device: a file that is not Boxy's fails at the first ioctl")
{
    auto device = open_device("/dev/null");
    REQUIRE(device);
    const auto version = (*device)->version();
    REQUIRE_FALSE(version);
    CHECK(version.error().message.starts_with(
        "/dev/null: BOXY_IOCTL_VERSION failed: Inappropriate ioctl for device — /dev/null is "
        "not Boxy's device"));
    const auto stats = (*device)->cpu_stats(0);
    REQUIRE_FALSE(stats);
    CHECK(stats.error().message.starts_with("/dev/null: BOXY_IOCTL_GET_STATS failed"));
}

TEST_CASE("device: messages say what to do")
{
    CHECK(describe_open_error("/dev/boxy", ENOENT) ==
          "cannot open /dev/boxy: No such file or directory — is boxy.ko loaded? (modprobe boxy)");
    CHECK(describe_open_error("/dev/boxy", EACCES) ==
          "cannot open /dev/boxy: Permission denied — run boxyctl as root, or as a member of the "
          "boxy group");
    CHECK(describe_open_error("/dev/boxy", EMFILE) == "cannot open /dev/boxy: Too many open files");
    CHECK(describe_ioctl_error("/dev/boxy", "BOXY_IOCTL_GET_STATS", EIO) ==
          "/dev/boxy: BOXY_IOCTL_GET_STATS failed: Input/output error — Boxy refused the call; "
          "the kernel log (dmesg) says why");
    CHECK(describe_ioctl_error("/dev/boxy", "BOXY_IOCTL_GET_STATS", EOPNOTSUPP) ==
          "/dev/boxy: BOXY_IOCTL_GET_STATS failed: Operation not supported — this Boxy does not "
          "offer it");
}
