// SPDX-License-Identifier: MIT
//
// Errors as values: a minimal std::expected-shaped result type that works in
// every build world (freestanding VMM, EFI loader, host tools). No
// exceptions, no allocation, no RTTI.
#pragma once

#include <new>
#include <type_traits>
#include <utility>

namespace boxy {

template <class E>
struct Unexpected {
    E error;
};

template <class E>
[[nodiscard]] constexpr Unexpected<std::decay_t<E>> make_error(E&& error)
{
    return Unexpected<std::decay_t<E>>{std::forward<E>(error)};
}

// Result<T, E> holds either a value or an error. Accessing the wrong side is
// a programming error; callers test has_value() (or operator bool) first.
template <class T, class E>
class [[nodiscard]] Result {
public:
    // NOLINTNEXTLINE(google-explicit-constructor): implicit like std::expected
    constexpr Result(T value) : has_value_{true} { new (&storage_.value) T(std::move(value)); }
    // NOLINTNEXTLINE(google-explicit-constructor)
    constexpr Result(Unexpected<E> error) : has_value_{false}
    {
        new (&storage_.error) E(std::move(error.error));
    }
    Result(const Result& other) : has_value_{other.has_value_}
    {
        if (has_value_) {
            new (&storage_.value) T(other.storage_.value);
        } else {
            new (&storage_.error) E(other.storage_.error);
        }
    }
    Result(Result&& other) noexcept : has_value_{other.has_value_}
    {
        if (has_value_) {
            new (&storage_.value) T(std::move(other.storage_.value));
        } else {
            new (&storage_.error) E(std::move(other.storage_.error));
        }
    }
    Result& operator=(const Result&) = delete;
    Result& operator=(Result&&) = delete;
    ~Result()
    {
        if (has_value_) {
            storage_.value.~T();
        } else {
            storage_.error.~E();
        }
    }

    [[nodiscard]] constexpr bool has_value() const { return has_value_; }
    constexpr explicit operator bool() const { return has_value_; }

    [[nodiscard]] constexpr T& value() & { return storage_.value; }
    [[nodiscard]] constexpr const T& value() const& { return storage_.value; }
    [[nodiscard]] constexpr T&& value() && { return std::move(storage_.value); }
    constexpr T* operator->() { return &storage_.value; }
    constexpr const T* operator->() const { return &storage_.value; }
    constexpr T& operator*() & { return storage_.value; }
    constexpr const T& operator*() const& { return storage_.value; }

    [[nodiscard]] constexpr const E& error() const { return storage_.error; }

private:
    // Members are constructed and destroyed by Result itself; "= default"
    // would be deleted for non-trivial members, hence the empty bodies.
    union Storage {
        // NOLINTNEXTLINE(modernize-use-equals-default)
        Storage() {}
        // NOLINTNEXTLINE(modernize-use-equals-default)
        ~Storage() {}
        Storage(const Storage&) = delete;
        Storage(Storage&&) = delete;
        Storage& operator=(const Storage&) = delete;
        Storage& operator=(Storage&&) = delete;
        T value;
        E error;
    } storage_;
    bool has_value_;
};

// Result<void, E>: success carries no value.
template <class E>
class [[nodiscard]] Result<void, E> {
public:
    constexpr Result() = default;
    // NOLINTNEXTLINE(google-explicit-constructor)
    constexpr Result(Unexpected<E> error) : error_{std::move(error.error)}, has_value_{false} {}

    [[nodiscard]] constexpr bool has_value() const { return has_value_; }
    constexpr explicit operator bool() const { return has_value_; }
    [[nodiscard]] constexpr const E& error() const { return error_; }

private:
    E error_{};
    bool has_value_{true};
};

}  // namespace boxy

// Propagate an error from an expression returning Result<_, E> to a caller
// returning Result<_, E>.
#define BOXY_TRY(expr)                                           \
    do {                                                         \
        auto boxy_try_result_ = (expr);                          \
        if (!boxy_try_result_) {                                 \
            return ::boxy::make_error(boxy_try_result_.error()); \
        }                                                        \
    } while (false)
