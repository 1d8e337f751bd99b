// SPDX-License-Identifier: MIT
//
// Sparse guest-physical memory for the page-walk tests: 4 KiB pages created
// on first write, anything never written is a hole the reader refuses. The
// reader also enforces the walker's side of GuestPhysReader's contract.
#pragma once

#include "emulate/guest_paging.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <span>

namespace boxy::vmm::emulate::test {

class FakeGuestMemory {
public:
    static constexpr std::uint64_t kPage = 4096;

    void write_bytes(std::uint64_t gpa, std::span<const std::uint8_t> bytes)
    {
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            page(gpa + i)[(gpa + i) % kPage] = bytes[i];
        }
    }
    void write32(std::uint64_t gpa, std::uint32_t value)
    {
        std::array<std::uint8_t, 4> bytes{};
        std::memcpy(bytes.data(), &value, bytes.size());
        write_bytes(gpa, bytes);
    }
    void write64(std::uint64_t gpa, std::uint64_t value)
    {
        std::array<std::uint8_t, 8> bytes{};
        std::memcpy(bytes.data(), &value, bytes.size());
        write_bytes(gpa, bytes);
    }
    // Reads of this page fail from now on (VMM memory, MMIO).
    void refuse(std::uint64_t gpa) { refused_.insert(gpa / kPage); }

    bool operator()(std::uint64_t gpa, void* out, std::size_t length)
    {
        ++reads;
        REQUIRE(length > 0);
        REQUIRE(gpa / kPage == (gpa + length - 1) / kPage);  // never crosses a frame
        auto found = pages_.find(gpa / kPage);
        if (found == pages_.end() || refused_.count(gpa / kPage) != 0) {
            return false;
        }
        std::memcpy(out, found->second.data() + gpa % kPage, length);
        return true;
    }

    GuestPhysReader reader() { return guest_phys_reader_for(*this); }

    int reads = 0;

private:
    std::array<std::uint8_t, kPage>& page(std::uint64_t gpa) { return pages_[gpa / kPage]; }

    std::map<std::uint64_t, std::array<std::uint8_t, kPage>> pages_;
    std::set<std::uint64_t> refused_;
};

}  // namespace boxy::vmm::emulate::test
