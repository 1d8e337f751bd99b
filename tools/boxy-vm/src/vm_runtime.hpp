// SPDX-License-Identifier: MIT
//
// One service VM's life in this process, over kernel.hpp:
//   1. DIR/boxy-vm.log, DIR/state.json "starting";
//   2. VM_CREATE, guest RAM (anonymous, private, huge pages advised), the
//      boot images and ACPI tables in it (guest_setup.hpp), SET_MEMORY,
//      VCPU_CREATE for every vCPU, SET_REGS for vCPU 0 (the others wait for
//      a start-up IPI, as the VMM created them);
//   3. DIR/console.log, DIR/console.sock, DIR/control.sock;
//   4. one thread per vCPU (RUN, exits to the Machine), state "running",
//      "ready\n" on the ready descriptor;
//   5. the event loop (service_loop.hpp) on the calling thread until the VM
//      stops: the guest powers off or resets (state "stopped", exit reason
//      "poweroff"/"reset"), triple-faults ("triple fault"), a vCPU fails
//      (state "failed", "error: ..." and a register dump in the log), or
//      the terminate descriptor fires (SIGTERM/SIGINT: "killed");
//   6. every vCPU thread kicked out of RUN and joined, the VM fds closed
//      (boxy.ko destroys the VM and unpins its memory), the RAM unmapped,
//      the sockets removed, the final state written.
// A failure before step 4 writes "error: <message>\n" to the ready
// descriptor and state "failed".
#pragma once

#include "kernel.hpp"
#include "options.hpp"

namespace boxy::vm {

// Runs the VM described by `options` and `files` (validated) on `kernel`;
// returns the process's exit code: 0 once stopped, 1 after a failure.
// `terminate_fd` readable means "stop now" (-1: never).
[[nodiscard]] int run_vm(const Options& options, const BootFiles& files, Kernel& kernel,
                         int terminate_fd);

// A readable dump of a vCPU's registers, for the log.
[[nodiscard]] std::string format_registers(const boxy_vcpu_regs& regs);

}  // namespace boxy::vm
