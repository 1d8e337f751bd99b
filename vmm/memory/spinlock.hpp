// SPDX-License-Identifier: MIT
//
// A test-and-test-and-set spinlock for the VMM, which has no scheduler to
// sleep on. Built on the compiler's __atomic builtins, which need no runtime
// library on x86-64 (they compile to XCHG/MOV). constinit-friendly: a
// zero-initialised lock is unlocked, so global locks need no constructor.
#pragma once

namespace boxy::vmm {

class Spinlock {
public:
    constexpr Spinlock() = default;
    ~Spinlock() = default;
    Spinlock(const Spinlock&) = delete;
    Spinlock& operator=(const Spinlock&) = delete;
    Spinlock(Spinlock&&) = delete;
    Spinlock& operator=(Spinlock&&) = delete;

    void lock()
    {
        while (__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE)) {
            // Spin on a plain load so that waiters share the cache line
            // instead of bouncing it with writes.
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED)) {
                cpu_relax();
            }
        }
    }

    [[nodiscard]] bool try_lock() { return !__atomic_exchange_n(&locked_, true, __ATOMIC_ACQUIRE); }

    void unlock() { __atomic_store_n(&locked_, false, __ATOMIC_RELEASE); }

    [[nodiscard]] bool is_locked() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED); }

private:
    static void cpu_relax()
    {
        // PAUSE hints a spin-wait loop to the CPU: it saves power and avoids
        // the memory-order mis-speculation penalty on exit (SDM Vol. 2B,
        // "PAUSE"). No operands, no memory effects.
        asm volatile("pause");
    }

    bool locked_{false};
};

// Holds a Spinlock for its scope.
class SpinlockGuard {
public:
    explicit SpinlockGuard(Spinlock& lock) : lock_{lock} { lock_.lock(); }
    ~SpinlockGuard() { lock_.unlock(); }
    SpinlockGuard(const SpinlockGuard&) = delete;
    SpinlockGuard& operator=(const SpinlockGuard&) = delete;
    SpinlockGuard(SpinlockGuard&&) = delete;
    SpinlockGuard& operator=(SpinlockGuard&&) = delete;

private:
    Spinlock& lock_;
};

}  // namespace boxy::vmm
