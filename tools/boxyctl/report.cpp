// SPDX-License-Identifier: MIT
#include "report.hpp"

#include "exit_reason.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <vector>

namespace boxy::boxyctl {

namespace {

static_assert(vmm::kExitReasonCount == BOXY_EXIT_REASON_COUNT,
              "vmm/exit_reason.hpp and abi.h must list the same reasons");

// Keys keep their insertion order, so JSON lists reasons in ABI order.
using Json = nlohmann::ordered_json;

struct FeatureName {
    std::uint64_t bit;
    std::string_view name;
};
constexpr std::array kFeatureNames{FeatureName{BOXY_FEATURE_GET_STATS, "get_stats"}};

std::string cpu_count_text(std::uint32_t count)
{
    return count == 1 ? std::string{"1 CPU"} : fmt::format("{} CPUs", count);
}

Json abi_version_json(std::uint32_t version)
{
    Json out;
    out["major"] = BOXY_ABI_VERSION_MAJOR_OF(version);
    out["minor"] = BOXY_ABI_VERSION_MINOR_OF(version);
    return out;
}

Json feature_names(std::uint64_t features)
{
    Json names = Json::array();
    for (unsigned bit = 0; bit < 64; ++bit) {
        const std::uint64_t mask = std::uint64_t{1} << bit;
        if ((features & mask) == 0) {
            continue;
        }
        const auto* known = std::find_if(kFeatureNames.begin(), kFeatureNames.end(),
                                         [mask](const FeatureName& f) { return f.bit == mask; });
        names.push_back(known != kFeatureNames.end() ? std::string{known->name}
                                                     : fmt::format("bit_{}", bit));
    }
    return names;
}

// Rows every CPU has: the most reasons any CPU reported.
std::size_t reasons_of_all(std::span<const boxy_cpu_stats> cpus)
{
    std::size_t reasons = 0;
    for (const boxy_cpu_stats& cpu : cpus) {
        reasons = std::max(reasons, reported_reasons(cpu));
    }
    return reasons;
}

std::uint64_t count_of(const boxy_cpu_stats& cpu, std::size_t reason)
{
    return reason < reported_reasons(cpu) ? cpu.exits_by_reason[reason] : 0;
}

std::uint64_t reason_total(std::span<const boxy_cpu_stats> cpus, std::size_t reason)
{
    std::uint64_t sum = 0;
    for (const boxy_cpu_stats& cpu : cpus) {
        sum += count_of(cpu, reason);
    }
    return sum;
}

std::uint64_t exit_total(std::span<const boxy_cpu_stats> cpus)
{
    std::uint64_t sum = 0;
    for (const boxy_cpu_stats& cpu : cpus) {
        sum += cpu.total_exits;
    }
    return sum;
}

using Row = std::vector<std::string>;

// The first column left-aligned, the others right-aligned, two spaces
// apart, no trailing blanks.
std::string render(const std::vector<Row>& rows)
{
    std::vector<std::size_t> widths;
    for (const Row& row : rows) {
        widths.resize(std::max(widths.size(), row.size()), 0);
        for (std::size_t column = 0; column < row.size(); ++column) {
            widths[column] = std::max(widths[column], row[column].size());
        }
    }
    std::string out;
    for (const Row& row : rows) {
        std::string line;
        for (std::size_t column = 0; column < row.size(); ++column) {
            if (column == 0) {
                line += fmt::format("{:<{}}", row[column], widths[column]);
            } else {
                line += fmt::format("  {:>{}}", row[column], widths[column]);
            }
        }
        line.erase(line.find_last_not_of(' ') + 1);
        out += line;
        out += '\n';
    }
    return out;
}

}  // namespace

std::string format_abi_version(std::uint32_t version)
{
    return fmt::format("{}.{}", BOXY_ABI_VERSION_MAJOR_OF(version),
                       BOXY_ABI_VERSION_MINOR_OF(version));
}

bool abi_compatible(std::uint32_t vmm_version)
{
    return BOXY_ABI_VERSION_MAJOR_OF(vmm_version) == BOXY_ABI_VERSION_MAJOR;
}

std::string reason_name(std::size_t index)
{
    if (index < vmm::kExitReasonCount) {
        return std::string{vmm::to_string(static_cast<vmm::ExitReason>(index))};
    }
    return fmt::format("reason_{}", index);
}

std::size_t reported_reasons(const boxy_cpu_stats& stats)
{
    return std::min<std::size_t>(stats.reason_count, BOXY_STATS_MAX_REASONS);
}

std::string format_version_text(std::string_view tool_version, const VersionInfo& info)
{
    return fmt::format("boxyctl {}, Boxy ABI {}, {}\n", tool_version,
                       format_abi_version(info.abi_version), cpu_count_text(info.cpu_count));
}

std::string format_version_json(std::string_view tool_version, const VersionInfo& info)
{
    Json out;
    out["boxyctl"] = tool_version;
    out["abi"] = abi_version_json(info.abi_version);
    out["driver_abi"] = abi_version_json(info.driver_abi_version);
    out["cpus"] = info.cpu_count;
    out["features"] = feature_names(info.features);
    return out.dump(2) + '\n';
}

std::string format_stats_table(std::span<const boxy_cpu_stats> cpus)
{
    const bool total_column = cpus.size() > 1;
    const std::size_t reasons = reasons_of_all(cpus);

    std::vector<Row> rows;
    Row header{"exit reason"};
    Row apic{"apic id"};
    for (const boxy_cpu_stats& cpu : cpus) {
        header.push_back(fmt::format("cpu {}", cpu.cpu_index));
        apic.push_back(fmt::format("{}", cpu.apic_id));
    }
    if (total_column) {
        header.emplace_back("total");
    }
    rows.push_back(std::move(header));
    rows.push_back(std::move(apic));

    for (std::size_t reason = 0; reason < reasons; ++reason) {
        Row row{reason_name(reason)};
        for (const boxy_cpu_stats& cpu : cpus) {
            row.push_back(fmt::format("{}", count_of(cpu, reason)));
        }
        if (total_column) {
            row.push_back(fmt::format("{}", reason_total(cpus, reason)));
        }
        rows.push_back(std::move(row));
    }

    Row total{"total"};
    for (const boxy_cpu_stats& cpu : cpus) {
        total.push_back(fmt::format("{}", cpu.total_exits));
    }
    if (total_column) {
        total.push_back(fmt::format("{}", exit_total(cpus)));
    }
    rows.push_back(std::move(total));
    return render(rows);
}

std::string format_stats_json(std::span<const boxy_cpu_stats> cpus)
{
    Json per_cpu = Json::array();
    for (const boxy_cpu_stats& cpu : cpus) {
        Json by_reason = Json::object();
        for (std::size_t reason = 0; reason < reported_reasons(cpu); ++reason) {
            by_reason[reason_name(reason)] = cpu.exits_by_reason[reason];
        }
        Json entry;
        entry["cpu"] = cpu.cpu_index;
        entry["apic_id"] = cpu.apic_id;
        entry["total"] = cpu.total_exits;
        entry["by_reason"] = std::move(by_reason);
        per_cpu.push_back(std::move(entry));
    }

    Json all_by_reason = Json::object();
    for (std::size_t reason = 0; reason < reasons_of_all(cpus); ++reason) {
        all_by_reason[reason_name(reason)] = reason_total(cpus, reason);
    }
    Json all;
    all["total"] = exit_total(cpus);
    all["by_reason"] = std::move(all_by_reason);

    Json out;
    out["cpus"] = std::move(per_cpu);
    out["all_cpus"] = std::move(all);
    return out.dump(2) + '\n';
}

}  // namespace boxy::boxyctl
