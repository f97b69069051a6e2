// The audio thread's half: the host's transport -> beats, and the engine's notes -> MIDI events
// at exact frame offsets. Real-time safe: no allocation (every table is part of the object), no
// lock, no wait, no I/O; each cycle does a bounded amount of work.
//
// Time. Each cycle the host says where its transport is (frame, bar/beat/tick, tempo, playing).
// The player keeps an *anchor* (a frame, the beat there, the tempo) and maps frames to beats
// from it in double precision, counting frames itself; it re-anchors only when the host says
// something new: a start, a relocation or loop (the host's frame jumps, or its beat leaves the
// anchor's by more than kJumpBeats), or a tempo change. So an onset lands on the host's grid to
// within rounding (half a sample) however long the take, and a host that extrapolates its
// position in single precision between updates (DPF's LV2 wrapper does) cannot drift the notes.
//
// Tempo changes. A host may report one in the middle of a cycle, at its frame (the cycle is then
// split there), or — Ardour's LV2 transport — at the start of the cycle after it, with the beat
// rounded to its ticks (1/1920 beat). Anchoring on that rounded beat would put every later note
// up to a tick (0.26 ms at 120 BPM) off the grid, so the player first looks for the change on
// the 16th-note grid inside the last cycle: the grid line g from which the new tempo leads to
// the beat the host reports at its frame (to within kTickBeats). Found, the new anchor is exact
// (tempo markers sit on beats in practice); not found, it takes the host's word. Notes whose
// time passed between the change and its report are played at the cycle's start, never lost.
//
// Notes. The worker fills three piece tables (slots) through the ring: notes in beats on the
// host's timeline, sorted by onset. Every cycle the player takes the notes whose onset falls in
// this cycle's frames, merges them in time order with the note-offs due, and writes them. On a
// stop, a relocation or a loop every sounding note is switched off first (on a stop, All Notes
// Off too), so nothing hangs; a note that arrives after its time is never played late.
//
// Play on transport off: the player keeps its own clock at the host's tempo, from beat 0, and
// starts it when the worker says the music from there is in (Shared::freeReady).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "Shared.hpp"

namespace synesthete {

struct HostPosition {
    bool playing = false;
    bool valid = false;     // bar/beat/tempo known
    int64_t frame = 0;      // the host's transport frame at this cycle (or at its tempo change)
    double beat = 0.0;      // quarter notes since the downbeat of bar 1
    double bpm = 120.0;
};

struct MidiOut {
    uint32_t frame;
    uint8_t size;
    uint8_t data[3];
};

class Player {
public:
    static constexpr uint32_t kSlotNotes = 4096;     // a piece: 64 bars of very dense music
    static constexpr uint32_t kMaxOut = 2048;        // MIDI events written in one cycle at most
    static constexpr uint32_t kMaxOns = 1024;
    static constexpr uint32_t kDrainPerCycle = 4096; // ring commands taken in one cycle at most
    static constexpr double kJumpBeats = 1e-3;       // host vs anchor beyond this: a relocation
    static constexpr uint8_t kChannel = 0;

    struct Note {
        double start, end;
        uint8_t pitch, velocity;
    };

    void reset(double sampleRate) noexcept
    {
        sampleRate_ = sampleRate > 0.0 ? sampleRate : 48000.0;
        rolling_ = false;
        split_ = false;
        freeMode_ = false;
        haveHostFrame_ = false;
        hostShift_ = 0;
        lastFrames_ = 0;
        for (auto& s : slots_)
            s.count = 0;
        for (int p = 0; p < 128; ++p)
            sounding_[p] = -1.0;
        anySounding_ = false;
        dropped_ = 0;
    }

    // One cycle. `follow`: play on the host's transport (else free-running at its tempo).
    // Writes at most kMaxOut events to `out` in non-decreasing frame order; returns how many.
    uint32_t process(const HostPosition& pos, bool follow, uint32_t frames, Shared& sh, MidiOut* out) noexcept
    {
        drain(sh);
        nOut_ = 0;
        out_ = out;
        if (frames == 0)
            return 0;

        bool jump = false;
        bool rolling;
        split_ = false;
        catchUpFrom_ = catchUpTo_ = 0.0;
        const double hostBpm = (pos.valid && pos.bpm > 0.0) ? pos.bpm : 120.0;

        // Where the host's position holds, in the player's own frame count. The host's frame
        // normally moves on by the cycle before. A host that reports a change in the middle of a
        // cycle gives the frame of the change, `offset` frames into the cycle, and DPF counts on
        // from there (so later frames run `hostShift_` ahead of the cycles' starts until the next
        // report). A host frame that jumps means a relocation or a loop. A frame that stands
        // still (a host with no sample position) tells nothing: the beats decide.
        int64_t offset = hostShift_;
        if (haveHostFrame_ && pos.frame != lastHostFrame_)
            offset = pos.frame - (lastHostFrame_ + int64_t(lastFrames_)) + hostShift_;
        haveHostFrame_ = true;
        lastHostFrame_ = pos.frame;

        if (follow) {
            rolling = pos.playing && pos.valid;
            if (rolling) {
                const int64_t at = cycleStart_ + offset;
                const double predicted = beatAt(anchor_, double(at));
                Anchor onGrid;
                if (!rolling_ || freeMode_ || offset < 0 || offset >= int64_t(frames)) {
                    jump = true;                            // started, relocated, looped
                } else if (hostBpm != anchor_.bpm && offset == 0 && tempoChangeOnGrid(at, pos.beat, hostBpm, onGrid)) {
                    anchor_ = onGrid;
                } else if (hostBpm != anchor_.bpm &&
                           std::fabs(pos.beat - predicted) <= kJumpBeats + lastFrames_ * std::fabs(rate(hostBpm) - rate(anchor_.bpm))) {
                    before_ = anchor_;                      // a tempo change at `at`
                    anchor_ = {double(at), pos.beat, hostBpm};
                    split_ = at > cycleStart_;
                    splitFrame_ = at;
                } else if (std::fabs(pos.beat - predicted) > kJumpBeats) {
                    jump = true;                            // the host's beat moved: relocated
                }
                if (jump)
                    anchor_ = {double(cycleStart_), pos.beat, hostBpm};
                hostShift_ = jump ? 0 : offset;
            }
            freeMode_ = false;
        } else {
            // free-running starts once the music from its beat 0 is loaded, so it starts with it
            rolling = rolling_ && freeMode_ ? true : sh.freeReady.load(std::memory_order_acquire);
            if (!rolling) {
                if (rolling_)
                    silence(0, true);
                rolling_ = false;
                freeMode_ = true;
                lastFrames_ = frames;
                sh.rolling.store(false, std::memory_order_relaxed);
                sh.beat.store(0.0, std::memory_order_relaxed);
                sh.bpm.store(hostBpm, std::memory_order_relaxed);
                return nOut_;
            }
            if (!rolling_ || !freeMode_) {
                jump = true;
                anchor_ = {double(cycleStart_), 0.0, hostBpm};
            } else if (hostBpm != anchor_.bpm) {
                anchor_ = {double(cycleStart_), beatAt(anchor_, double(cycleStart_)), hostBpm};
            }
            freeMode_ = true;
        }
        lastFrames_ = frames;

        if (!rolling) {
            if (rolling_)
                silence(0, true);                               // stopped: everything off
            rolling_ = false;
            sh.rolling.store(false, std::memory_order_relaxed);
            sh.beat.store(pos.valid ? pos.beat : 0.0, std::memory_order_relaxed);
            sh.bpm.store(hostBpm, std::memory_order_relaxed);
            return nOut_;
        }

        if (jump) {
            silence(0, false);
            sh.jumps.fetch_add(1, std::memory_order_relaxed);
        }
        rolling_ = true;

        const int64_t c0 = cycleStart_, c1 = cycleStart_ + frames;
        double b0 = jump ? beatAtFrame(c0) : nextBeat_;
        const double now = beatAtFrame(c0);
        if (!jump && now > b0 + 1e-9) {               // a tempo change reported late: catch up
            catchUpFrom_ = b0;
            catchUpTo_ = now;
        }
        b0 = std::min(b0, now);
        const double b1 = beatAtFrame(c1);
        collectOns(c0, c1, b0, b1);
        emit(c0, c1);

        nextBeat_ = b1;
        cycleStart_ = c1;
        sh.beat.store(b0, std::memory_order_relaxed);
        sh.bpm.store(anchor_.bpm, std::memory_order_relaxed);
        sh.rolling.store(true, std::memory_order_relaxed);
        return nOut_;
    }

    uint32_t dropped() const noexcept { return dropped_; }

private:
    struct Anchor {
        double frame;       // on the host's transport (fractional where a tempo change fell)
        double beat;
        double bpm;
    };
    struct Slot {
        uint32_t count = 0;
        Note notes[kSlotNotes];
    };
    struct On {
        int64_t frame;
        double end;
        uint8_t pitch, velocity;
    };

    static constexpr double kTickBeats = 1.5 / 1920.0;   // a host's tick rounding, with room

    double rate(double bpm) const noexcept { return bpm / (60.0 * sampleRate_); }   // beats per frame

    double beatAt(const Anchor& a, double frame) const noexcept
    {
        return a.beat + (frame - a.frame) * rate(a.bpm);
    }

    double beatAtFrame(int64_t frame) const noexcept
    {
        return (split_ && frame < splitFrame_) ? beatAt(before_, double(frame)) : beatAt(anchor_, double(frame));
    }

    // The frame (on the host's transport) where `beat` falls, rounded to the nearest sample.
    int64_t frameOf(double beat) const noexcept
    {
        const Anchor& a = (split_ && beat < anchor_.beat) ? before_ : anchor_;
        return (int64_t)std::llround(a.frame + (beat - a.beat) / rate(a.bpm));
    }

    // A tempo change the host reports at `frame` (now `bpm`, at `beat`): was it on a 16th-note
    // grid line g in the last cycle? From g the new tempo must reach the host's beat at its frame.
    bool tempoChangeOnGrid(int64_t frame, double beat, double bpm, Anchor& out) const noexcept
    {
        const double from = beatAt(anchor_, double(cycleStart_ - lastFrames_));
        const double to = beatAt(anchor_, double(frame));
        for (double g = std::ceil(from * 4.0 - 1e-9) / 4.0; g <= to + 1e-9; g += 0.25) {
            const double at = anchor_.frame + (g - anchor_.beat) / rate(anchor_.bpm);
            if (std::fabs(g + (double(frame) - at) * rate(bpm) - beat) <= kTickBeats) {
                out = {at, g, bpm};
                return true;
            }
        }
        return false;
    }

    void drain(Shared& sh) noexcept
    {
        NoteCmd c;
        for (uint32_t i = 0; i < kDrainPerCycle && sh.ring.pop(c); ++i) {
            if (c.slot >= kSlots)
                continue;
            Slot& s = slots_[c.slot];
            if (c.kind == NoteCmd::kTruncate) {
                s.count = lowerBound(s, c.start);
            } else if (s.count < kSlotNotes && (s.count == 0 || c.start >= s.notes[s.count - 1].start)) {
                s.notes[s.count++] = {c.start, c.end, c.pitch, c.velocity};
            } else {
                ++dropped_;
            }
        }
    }

    static uint32_t lowerBound(const Slot& s, double beat) noexcept
    {
        uint32_t lo = 0, hi = s.count;
        while (lo < hi) {
            const uint32_t mid = (lo + hi) / 2;
            if (s.notes[mid].start < beat)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    // Onsets in frames [c0, c1): taken by frame, so a note on a cycle boundary plays exactly once.
    void collectOns(int64_t c0, int64_t c1, double b0, double b1) noexcept
    {
        nOns_ = 0;
        const double margin = 1e-6;
        for (const Slot& s : slots_) {
            for (uint32_t i = lowerBound(s, b0 - margin); i < s.count && s.notes[i].start < b1 + margin; ++i) {
                const Note& n = s.notes[i];
                int64_t f = frameOf(n.start);
                if (f < c0 && n.start >= catchUpFrom_ && n.start < catchUpTo_)
                    f = c0;                                   // its time passed before the host said so
                if (f < c0 || f >= c1 || nOns_ >= kMaxOns)
                    continue;
                uint32_t j = nOns_++;                                   // insertion sort by frame
                while (j > 0 && ons_[j - 1].frame > f) {
                    ons_[j] = ons_[j - 1];
                    --j;
                }
                ons_[j] = {f, n.end, n.pitch, n.velocity};
            }
        }
    }

    void write3(int64_t frame, uint8_t a, uint8_t b, uint8_t c) noexcept
    {
        if (nOut_ >= kMaxOut)
            return;
        MidiOut& m = out_[nOut_++];
        m.frame = (uint32_t)frame;
        m.size = 3;
        m.data[0] = a;
        m.data[1] = b;
        m.data[2] = c;
    }

    // Note-offs and note-ons in time order; a note-off before a note-on at the same frame.
    void emit(int64_t c0, int64_t c1) noexcept
    {
        int64_t offFrame[128];
        for (int p = 0; p < 128; ++p)
            offFrame[p] = sounding_[p] >= 0.0 ? frameOf(sounding_[p]) : INT64_MAX;
        uint32_t i = 0;
        for (;;) {
            int best = -1;
            int64_t bestFrame = INT64_MAX;
            if (anySounding_) {
                for (int p = 0; p < 128; ++p) {
                    if (offFrame[p] < c1 && offFrame[p] < bestFrame) {
                        bestFrame = offFrame[p];
                        best = p;
                    }
                }
            }
            const int64_t onFrame = i < nOns_ ? ons_[i].frame : INT64_MAX;
            if (best >= 0 && bestFrame <= onFrame) {
                write3(std::max<int64_t>(bestFrame, c0) - c0, 0x80 | kChannel, (uint8_t)best, 0);
                sounding_[best] = -1.0;
                offFrame[best] = INT64_MAX;
                continue;
            }
            if (i >= nOns_)
                break;
            const On& on = ons_[i++];
            if (sounding_[on.pitch] >= 0.0)     // the same key again: release it first
                write3(on.frame - c0, 0x80 | kChannel, on.pitch, 0);
            write3(on.frame - c0, 0x90 | kChannel, on.pitch, on.velocity ? on.velocity : 1);
            sounding_[on.pitch] = on.end;
            offFrame[on.pitch] = frameOf(on.end);
            anySounding_ = true;
        }
        anySounding_ = false;
        for (int p = 0; p < 128; ++p)
            anySounding_ = anySounding_ || sounding_[p] >= 0.0;
    }

    // Every sounding note off at `frame`; on a stop also All Notes Off and the pedal up.
    void silence(uint32_t frame, bool allNotesOff) noexcept
    {
        for (int p = 0; p < 128; ++p) {
            if (sounding_[p] >= 0.0) {
                write3(frame, 0x80 | kChannel, (uint8_t)p, 0);
                sounding_[p] = -1.0;
            }
        }
        anySounding_ = false;
        if (allNotesOff) {
            write3(frame, 0xB0 | kChannel, 64, 0);      // sustain pedal up
            write3(frame, 0xB0 | kChannel, 123, 0);     // All Notes Off
        }
    }

    double sampleRate_ = 48000.0;
    bool rolling_ = false, freeMode_ = false, split_ = false, anySounding_ = false;
    Anchor anchor_{0.0, 0.0, 120.0}, before_{0.0, 0.0, 120.0};
    int64_t cycleStart_ = 0, splitFrame_ = 0;
    uint32_t lastFrames_ = 0;
    int64_t lastHostFrame_ = 0, hostShift_ = 0;
    bool haveHostFrame_ = false;
    double nextBeat_ = 0.0, catchUpFrom_ = 0.0, catchUpTo_ = 0.0;
    double sounding_[128];          // release beat of each sounding pitch, -1: not sounding
    Slot slots_[kSlots];
    On ons_[kMaxOns];
    uint32_t nOns_ = 0, nOut_ = 0, dropped_ = 0;
    MidiOut* out_ = nullptr;
};

}  // namespace synesthete
