// SPDX-License-Identifier: MIT
//
// boxy-vm's command line and the checks that run before any VM exists.
#include "options.hpp"

#include "temp_dir.hpp"
#include "test_kernel.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fcntl.h>
#include <sstream>
#include <unistd.h>
#include <vector>

using namespace boxy::vm;  // NOLINT(google-build-using-namespace): test brevity
using boxy::vm::test::make_bzimage;
using boxy::vm::test::SyntheticKernel;
using boxy::vm::test::TempDir;

namespace {

struct Run {
    ParsedCommandLine parsed;
    std::string out;
    std::string err;
};

Run parse(std::vector<std::string> words)
{
    words.insert(words.begin(), "boxy-vm");
    std::vector<const char*> args;
    for (const auto& word : words) {
        args.push_back(word.c_str());
    }
    std::ostringstream out;
    std::ostringstream err;
    Run run{parse_command_line(args, out, err), {}, {}};
    run.out = out.str();
    run.err = err.str();
    return run;
}

// A state directory with a synthetic bzImage and an initrd in it.
struct Setup {
    TempDir dir;
    Options options;

    explicit Setup(const SyntheticKernel& kernel = {})
    {
        dir.write("vmlinuz", make_bzimage(kernel));
        dir.write("initrd.img", std::vector<std::uint8_t>(4096, 7));
        options.name = "web";
        options.kernel = dir.file("vmlinuz");
        options.initrd = dir.file("initrd.img");
        options.memory_mib = 128;
        options.vcpus = 2;
        options.state_dir = dir.path();
    }
    std::string error()
    {
        auto files = validate(options);
        REQUIRE_FALSE(files);
        return files.error();
    }
};

}  // namespace

TEST_CASE("options: a full command line", "[options]")
{
    const Run run =
        parse({"--name", "web", "--kernel", "/boot/vmlinuz", "--initrd", "/boot/i.img", "--cmdline",
               "console=hvc0 quiet", "--memory", "160", "--vcpus", "2", "--state-dir",
               "/run/boxy/vms/web", "--ready-fd", "3", "--device", "/dev/boxy2"});
    REQUIRE(run.parsed.options);
    const Options& o = *run.parsed.options;
    CHECK(o.name == "web");
    CHECK(o.kernel == "/boot/vmlinuz");
    CHECK(o.initrd == "/boot/i.img");
    CHECK(o.cmdline == "console=hvc0 quiet");
    CHECK(o.memory_mib == 160);
    CHECK(o.vcpus == 2);
    CHECK(o.state_dir == "/run/boxy/vms/web");
    CHECK(o.ready_fd == 3);
    CHECK(o.device == "/dev/boxy2");
}

TEST_CASE("options: defaults", "[options]")
{
    const Run run = parse(
        {"--name", "a", "--kernel", "k", "--memory", "64", "--vcpus", "1", "--state-dir", "d"});
    REQUIRE(run.parsed.options);
    CHECK(run.parsed.options->cmdline == "console=hvc0");
    CHECK_FALSE(run.parsed.options->initrd);
    CHECK(run.parsed.options->ready_fd == -1);
    CHECK(run.parsed.options->device == "/dev/boxy");
}

TEST_CASE("options: usage errors are one line and exit code 2", "[options]")
{
    const auto check_usage = [](std::vector<std::string> words, const std::string& what) {
        CAPTURE(what);
        const Run run = parse(std::move(words));
        CHECK_FALSE(run.parsed.options);
        CHECK(run.parsed.exit_code == kExitUsage);
        CHECK(run.err.rfind("boxy-vm: error: ", 0) == 0);
        CHECK(run.err.find(what) != std::string::npos);
        CHECK(std::count(run.err.begin(), run.err.end(), '\n') == 1);
    };
    check_usage({}, "--name");
    check_usage(
        {"--name", "a", "--kernel", "k", "--memory", "x", "--vcpus", "1", "--state-dir", "d"},
        "--memory");
    check_usage({"--name", "a", "--kernel", "k", "--memory", "64", "--vcpus", "1", "--state-dir",
                 "d", "--frobnicate"},
                "--frobnicate");
    check_usage({"--name", "a", "--kernel", "k", "--memory", "64", "--vcpus", "1", "--state-dir",
                 "d", "--ready-fd", "three"},
                "--ready-fd");
}

TEST_CASE("options: --help and --version exit 0", "[options]")
{
    const Run help = parse({"--help"});
    CHECK(help.parsed.exit_code == kExitOk);
    CHECK(help.out.find("--state-dir") != std::string::npos);
    const Run version = parse({"--version"});
    CHECK(version.parsed.exit_code == kExitOk);
    CHECK(version.out.find("boxy-vm") != std::string::npos);
}

TEST_CASE("options: a valid configuration maps its files", "[options]")
{
    Setup s;
    auto files = validate(s.options);
    REQUIRE(files);
    CHECK(files->initrd_bytes().size() == 4096);
    CHECK(files->image.kernel.size() == SyntheticKernel{}.kernel_bytes);
    s.options.initrd.reset();
    auto no_initrd = validate(s.options);
    REQUIRE(no_initrd);
    CHECK(no_initrd->initrd_bytes().empty());
}

TEST_CASE("options: each bad option is named with what to do", "[options][malformed]")
{
    SECTION("name")
    {
        Setup s;
        for (const std::string& name :
             std::vector<std::string>{"", ".hidden", "-x", "a/b", "a b", std::string(65, 'n')}) {
            s.options.name = name;
            CHECK(s.error().find("--name") != std::string::npos);
        }
    }
    SECTION("vCPUs")
    {
        Setup s;
        s.options.vcpus = 0;
        CHECK(s.error() == "--vcpus 0: a service VM has 1 to 8 vCPUs");
        s.options.vcpus = 9;
        CHECK(s.error().find("--vcpus 9") == 0);
    }
    SECTION("memory")
    {
        Setup s;
        s.options.memory_mib = 63;
        CHECK(s.error() == "--memory 63: a service VM has 64 to 3072 MiB");
        s.options.memory_mib = 3073;
        CHECK(s.error().find("--memory 3073") == 0);
        s.options.memory_mib = UINT64_MAX;
        CHECK(s.error().find("--memory") == 0);
    }
    SECTION("state directory")
    {
        Setup s;
        s.options.state_dir = s.dir.file("missing");
        CHECK(s.error().find("--state-dir") == 0);
        s.options.state_dir = s.dir.file("vmlinuz");
        CHECK(s.error().find("not a directory") != std::string::npos);
        s.options.state_dir = "/tmp/" + std::string(200, 'd');
        CHECK(s.error().find("--state-dir") == 0);
    }
    SECTION("ready descriptor")
    {
        Setup s;
        s.options.ready_fd = 999;
        CHECK(s.error() == "--ready-fd 999 is not an open file descriptor");
        s.options.ready_fd = -7;
        CHECK(s.error().find("--ready-fd") == 0);
    }
    SECTION("kernel")
    {
        Setup s;
        s.options.kernel = s.dir.file("missing");
        CHECK(s.error().find("No such file") != std::string::npos);
        s.options.kernel = s.dir.path();
        CHECK(s.error().find("not a regular file") != std::string::npos);
        s.options.kernel = s.dir.file("initrd.img");
        CHECK(s.error().find("not a usable bzImage") != std::string::npos);
        s.dir.write("empty", {});
        s.options.kernel = s.dir.file("empty");
        CHECK(s.error().find("not a usable bzImage") != std::string::npos);
    }
    SECTION("initrd")
    {
        Setup s;
        s.options.initrd = s.dir.file("missing");
        CHECK(s.error().find("--initrd") == 0);
        s.dir.write("empty", {});
        s.options.initrd = s.dir.file("empty");
        CHECK(s.error().find("is empty") != std::string::npos);
    }
    SECTION("command line")
    {
        SyntheticKernel k;
        k.cmdline_size = 255;
        Setup s{k};
        s.options.cmdline = std::string(255, 'c');
        CHECK(s.error().find("shorten it") != std::string::npos);
        s.options.cmdline = std::string{"a\0b", 3};
        CHECK(s.error().find("NUL") != std::string::npos);
    }
    SECTION("the kernel does not fit the memory")
    {
        SyntheticKernel k;
        k.init_size = 0x800'0000;  // 128 MiB from 16 MiB
        Setup s{k};
        CHECK(s.error().find("more memory") != std::string::npos);
        s.options.memory_mib = 256;
        CHECK(validate(s.options));
    }
}

TEST_CASE("options: the ready descriptor must be open", "[options]")
{
    Setup s;
    const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    s.options.ready_fd = fd;
    CHECK(validate(s.options));
    ::close(fd);
}
