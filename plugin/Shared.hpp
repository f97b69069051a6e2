// What the plugin's threads share: the parameters, the lock-free ring of note commands
// (worker -> audio) and the playhead the audio thread publishes (audio -> worker).
//
// Three threads touch a Synesthete instance: the host's audio thread (run(), Player), the
// worker thread (Worker: the engine service, composing, steering) and the host's main thread
// (parameters, state). Nothing here blocks: every field is an atomic or the single-producer /
// single-consumer ring, so the audio thread never waits for the others.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace synesthete {

// ---------------------------------------------------------------------------------------------
// Parameters: the host automates and saves the inputs; the outputs show what the plugin is doing.

enum Param : uint32_t {
    kValence = 0,       // -1..1   the emotion asked for; with a picture, a move of the picture's VA
    kArousal,           // -1..1
    kIntensity,         // 0..2    how far from neutral (engine.settings)
    kVariety,           // 0..2
    kSpread,            // 0.25..2
    kHumanize,          // 0..1
    kBars,              // 1..64   bars in a piece
    kSeed,              // 0..1000000
    kKey,               // 0 auto, 1..12 major, 13..24 minor (kKeyNames)
    kLoop,              // on: piece after piece (as `stream --loop`); off: one piece from bar 1
    kPlayOnTransport,   // on: plays while the host plays, on its bars; off: free-running
    kStatus,            // output: Status below
    kBarOut,            // output: the bar playing (1-based), 0 when stopped
    kPictureValence,    // output: the picture's own VA
    kPictureArousal,    // output
    kParamCount
};

enum Status : int {
    kStarting = 0,      // starting the engine (synesthete serve)
    kReady,             // connected, the music ahead is composed
    kComposing,         // connected, composing what plays next
    kNoEngine,          // no engine: plays what is already composed, then silence
    kEngineError,       // the engine refused a request (see the host's log)
};

static const char* const kKeyNames[25] = {
    "auto", "C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
    "Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm",
};

// ---------------------------------------------------------------------------------------------
// A single-producer / single-consumer ring: push() on one thread, pop() on one other, never
// blocking, never allocating (the storage is part of the object). Capacity N is a power of two.

template <typename T, size_t N>
class SpscRing {
    static_assert((N & (N - 1)) == 0, "capacity must be a power of two");

public:
    bool push(const T& item) noexcept
    {
        const size_t head = head_.load(std::memory_order_relaxed);
        if (head - tail_.load(std::memory_order_acquire) == N)
            return false;                               // full: the producer retries later
        items_[head & (N - 1)] = item;
        head_.store(head + 1, std::memory_order_release);
        return true;
    }

    bool pop(T& item) noexcept
    {
        const size_t tail = tail_.load(std::memory_order_relaxed);
        if (tail == head_.load(std::memory_order_acquire))
            return false;
        item = items_[tail & (N - 1)];
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    size_t space() const noexcept
    {
        return N - (head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire));
    }

private:
    T items_[N];
    alignas(64) std::atomic<size_t> head_{0};
    alignas(64) std::atomic<size_t> tail_{0};
};

// One command from the worker to the audio thread. Times are in beats (quarter notes) on the
// host's timeline: beat 0 is the downbeat of the host's bar 1.
struct NoteCmd {
    enum Kind : uint8_t { kNote, kTruncate };
    uint8_t kind;
    uint8_t slot;       // which of the Player's piece tables
    uint8_t pitch;
    uint8_t velocity;
    double start;       // kNote: onset; kTruncate: drop the slot's notes starting at or after this
    double end;         // kNote: release
};

static constexpr size_t kRingSize = 8192;   // commands in flight: two whole pieces fit
static constexpr uint32_t kSlots = 3;       // piece tables: the one playing, the next, a spare

// ---------------------------------------------------------------------------------------------

// The audio thread only touches atomics that never take a lock.
static_assert(std::atomic<double>::is_always_lock_free && std::atomic<float>::is_always_lock_free &&
                  std::atomic<uint32_t>::is_always_lock_free && std::atomic<bool>::is_always_lock_free &&
                  std::atomic<size_t>::is_always_lock_free,
              "lock-free atomics are needed on the audio thread");

struct Shared {
    std::atomic<float> params[kParamCount];

    // audio -> worker: where the music is (published every cycle)
    std::atomic<double> beat{0.0};          // beats since the host's bar 1 (or since free-run began)
    std::atomic<double> bpm{120.0};
    std::atomic<bool> rolling{false};
    std::atomic<uint32_t> jumps{0};         // bumped on every start, relocation and loop

    // audio -> worker: CC 20 / 21 on the plugin's MIDI input steer valence / arousal
    std::atomic<float> ccValence{0.0f};
    std::atomic<float> ccArousal{0.0f};
    std::atomic<uint32_t> ccSerial{0};
    std::atomic<uint32_t> ccAxes{0};        // bit 0: valence came by CC, bit 1: arousal

    // worker -> audio
    std::atomic<int> status{kStarting};
    std::atomic<bool> freeReady{false};     // free-running: the music from its beat 0 is loaded
    std::atomic<float> pictureValence{0.0f};
    std::atomic<float> pictureArousal{0.0f};
    SpscRing<NoteCmd, kRingSize> ring;
};

}  // namespace synesthete
