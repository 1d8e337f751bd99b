// SPDX-License-Identifier: MIT
//
// Privileged x86-64 instructions as inline functions (Intel SDM Vol. 2;
// AMD APM Vol. 3). Each asm block is the single instruction its name says.
#pragma once

#include <cstdint>

namespace boxy::x64 {

struct CpuidResult {
    std::uint32_t eax, ebx, ecx, edx;
};

[[nodiscard]] inline CpuidResult cpuid(std::uint32_t leaf, std::uint32_t subleaf = 0)
{
    CpuidResult r{};
    asm volatile("cpuid"
                 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                 : "a"(leaf), "c"(subleaf));
    return r;
}

[[nodiscard]] inline std::uint64_t rdmsr(std::uint32_t msr)
{
    std::uint32_t lo = 0;
    std::uint32_t hi = 0;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

inline void wrmsr(std::uint32_t msr, std::uint64_t value)
{
    asm volatile("wrmsr" ::"c"(msr), "a"(static_cast<std::uint32_t>(value)),
                 "d"(static_cast<std::uint32_t>(value >> 32))
                 : "memory");
}

#define BOXY_X64_READ_CR(n)                                  \
    [[nodiscard]] inline std::uint64_t read_cr##n()          \
    {                                                        \
        std::uint64_t v = 0;                                 \
        asm volatile("mov %%cr" #n ", %0" : "=r"(v));        \
        return v;                                            \
    }                                                        \
    inline void write_cr##n(std::uint64_t v)                 \
    {                                                        \
        asm volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); \
    }
BOXY_X64_READ_CR(0)
BOXY_X64_READ_CR(2)
BOXY_X64_READ_CR(3)
BOXY_X64_READ_CR(4)
#undef BOXY_X64_READ_CR

[[nodiscard]] inline std::uint64_t read_dr7()
{
    std::uint64_t v = 0;
    asm volatile("mov %%dr7, %0" : "=r"(v));
    return v;
}

inline void write_dr7(std::uint64_t v)
{
    asm volatile("mov %0, %%dr7" ::"r"(v));
}

[[nodiscard]] inline std::uint64_t read_rflags()
{
    std::uint64_t v = 0;
    asm volatile("pushfq; popq %0" : "=r"(v));
    return v;
}

// The GDTR/IDTR image stored by SGDT/SIDT (SDM Vol. 3, 2.4.1).
struct [[gnu::packed]] DescriptorTableRegister {
    std::uint16_t limit;
    std::uint64_t base;
};
static_assert(sizeof(DescriptorTableRegister) == 10);

[[nodiscard]] inline DescriptorTableRegister read_gdtr()
{
    DescriptorTableRegister r{};
    asm volatile("sgdt %0" : "=m"(r));
    return r;
}

[[nodiscard]] inline DescriptorTableRegister read_idtr()
{
    DescriptorTableRegister r{};
    asm volatile("sidt %0" : "=m"(r));
    return r;
}

inline void load_gdtr(const DescriptorTableRegister& r)
{
    asm volatile("lgdt %0" ::"m"(r) : "memory");
}
inline void load_idtr(const DescriptorTableRegister& r)
{
    asm volatile("lidt %0" ::"m"(r) : "memory");
}

#define BOXY_X64_READ_SEG(name)                        \
    [[nodiscard]] inline std::uint16_t read_##name()   \
    {                                                  \
        std::uint16_t v = 0;                           \
        asm volatile("mov %%" #name ", %0" : "=r"(v)); \
        return v;                                      \
    }
BOXY_X64_READ_SEG(cs)
BOXY_X64_READ_SEG(ds)
BOXY_X64_READ_SEG(es)
BOXY_X64_READ_SEG(ss)
BOXY_X64_READ_SEG(fs)
BOXY_X64_READ_SEG(gs)
#undef BOXY_X64_READ_SEG

[[nodiscard]] inline std::uint16_t read_tr()
{
    std::uint16_t v = 0;
    asm volatile("str %0" : "=r"(v));
    return v;
}

[[nodiscard]] inline std::uint16_t read_ldtr()
{
    std::uint16_t v = 0;
    asm volatile("sldt %0" : "=r"(v));
    return v;
}

inline void cli()
{
    asm volatile("cli" ::: "memory");
}
inline void hlt()
{
    asm volatile("hlt" ::: "memory");
}

[[noreturn]] inline void halt_forever()
{
    for (;;) {
        asm volatile("cli; hlt" ::: "memory");
    }
}

}  // namespace boxy::x64
