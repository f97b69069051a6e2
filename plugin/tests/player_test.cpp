// Unit test of the audio thread's half (Player.hpp) with a simulated host, no plugin format:
// notes land on exact frames over a long take, across a tempo change reported the way Ardour
// reports it (a cycle late, the beat rounded to ticks) and the way hosts that split cycles do,
// a relocation switches everything off, a stop sends All Notes Off, a full ring never blocks,
// and process() never allocates. Built and run by tests/test_plugin_build.py:
//   g++ -std=c++17 -O2 -I plugin plugin/tests/player_test.cpp -o player_test && ./player_test
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "Player.hpp"

using namespace synesthete;

static std::atomic<long> gAllocations{0};
void* operator new(std::size_t n)
{
    ++gAllocations;
    if (void* p = std::malloc(n ? n : 1))
        return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

static int failures = 0;
#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            ++failures;                                   \
            std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            std::printf(__VA_ARGS__);                     \
            std::printf("\n");                            \
        }                                                 \
    } while (0)

struct Event {
    int64_t frame;   // absolute host frame
    uint8_t status, d1, d2;
};

// A host: a tempo map of (beat, bpm) sections; cycles of `block` frames from `start`.
struct Host {
    double rate = 48000.0;
    std::vector<std::pair<double, double>> tempo = {{0.0, 120.0}};

    double frameAt(double beat) const
    {
        double f = 0.0;
        for (size_t i = 0; i < tempo.size(); ++i) {
            const double b0 = tempo[i].first, bpm = tempo[i].second;
            const double b1 = i + 1 < tempo.size() ? tempo[i + 1].first : 1e300;
            if (beat <= b1)
                return f + (beat - b0) * 60.0 * rate / bpm;
            f += (b1 - b0) * 60.0 * rate / bpm;
        }
        return f;
    }
    double beatAt(double frame) const
    {
        double f = 0.0;
        for (size_t i = 0; i < tempo.size(); ++i) {
            const double b0 = tempo[i].first, bpm = tempo[i].second;
            const double b1 = i + 1 < tempo.size() ? tempo[i + 1].first : 1e300;
            const double len = (b1 - b0) * 60.0 * rate / bpm;
            if (frame <= f + len)
                return b0 + (frame - f) * bpm / (60.0 * rate);
            f += len;
        }
        return 0.0;
    }
    double bpmAt(double frame) const
    {
        double bpm = tempo[0].second;
        for (auto& t : tempo)
            if (frameAt(t.first) <= frame)
                bpm = t.second;
        return bpm;
    }
};

static Shared* gShared = new Shared();
static Player* gPlayer = new Player();
static MidiOut gOut[Player::kMaxOut];

static void load(const std::vector<Player::Note>& notes, uint8_t slot = 0)
{
    gShared->ring.push({NoteCmd::kTruncate, slot, 0, 0, -1e300, 0.0});
    for (auto& n : notes)
        gShared->ring.push({NoteCmd::kNote, slot, n.pitch, n.velocity, n.start, n.end});
}

// How hosts report their transport, as DPF hands it to the plugin.
enum Style {
    kExact,       // a fresh, exact position every cycle (VST3 hosts)
    kArdour,      // a tempo change reported at the start of the cycle after it, beat rounded to 1/1920
    kMidCycle,    // a tempo change reported at its own frame inside the cycle; DPF then counts frames
                  // on from there, so every later frame is that many frames ahead of the cycle's start
    kNoFrames,    // the frame never moves (a host without a sample position)
    kSteady,      // a steady frame count that ignores relocations (CLAP's steady_time)
};
static const char* kStyleNames[] = {"exact", "Ardour-style", "mid-cycle", "no frames", "steady frames"};

// Run the host from `from` to `to` (its transport frames), cycles of `block`.
static int64_t gSteady = 0;
static void play(const Host& h, int64_t from, int64_t to, uint32_t block, Style style, std::vector<Event>& got,
                 bool playing = true)
{
    double lastBpm = h.bpmAt(double(from));
    int64_t shift = 0;
    for (int64_t c = from; c < to; c += block) {
        HostPosition pos;
        pos.playing = playing;
        pos.valid = true;
        pos.frame = c + shift;
        pos.bpm = h.bpmAt(double(c));
        pos.beat = h.beatAt(double(c + shift));
        if (style == kMidCycle) {
            for (auto& t : h.tempo) {        // a change inside this cycle: reported at its frame
                const double f = h.frameAt(t.first);
                if (f > double(c) && f < double(c + block) && t.second != h.bpmAt(double(c))) {
                    shift = std::llround(f) - c;
                    pos.frame = c + shift;
                    pos.beat = t.first;
                    pos.bpm = t.second;
                }
            }
        }
        if (style == kArdour && pos.bpm != lastBpm)
            pos.beat = std::floor(pos.beat * 1920.0) / 1920.0;
        if (style == kNoFrames)
            pos.frame = 0;
        if (style == kSteady)
            pos.frame = gSteady;
        gSteady += block;
        lastBpm = pos.bpm;
        const long before = gAllocations.load();
        const uint32_t n = gPlayer->process(pos, true, block, *gShared, gOut);
        CHECK(gAllocations.load() == before, "process() allocated");
        for (uint32_t i = 0; i < n; ++i) {
            CHECK(gOut[i].frame < block, "event outside its cycle");
            CHECK(i == 0 || gOut[i].frame >= gOut[i - 1].frame, "events out of order");
            got.push_back({c + gOut[i].frame, gOut[i].data[0], gOut[i].data[1], gOut[i].data[2]});
        }
    }
}

static std::vector<Player::Note> sixteenths(double from, double to, uint8_t pitch = 60)
{
    std::vector<Player::Note> v;
    for (double b = from; b < to; b += 0.25)
        v.push_back({b, b + 0.2, uint8_t(pitch + (int(b * 4) % 12)), 90});
    return v;
}

static void checkOnsets(const Host& h, const std::vector<Player::Note>& notes, const std::vector<Event>& got,
                        double untilBeat, const char* what)
{
    size_t k = 0, ons = 0;
    for (auto& e : got) {
        if ((e.status & 0xF0) != 0x90)
            continue;
        ++ons;
        while (k < notes.size() && notes[k].start >= untilBeat)
            ++k;
        if (k >= notes.size()) {
            CHECK(false, "%s: extra note at %lld", what, (long long)e.frame);
            return;
        }
        const int64_t want = std::llround(h.frameAt(notes[k].start));
        CHECK(e.frame == want && e.d1 == notes[k].pitch, "%s: note %zu at %lld, want %lld", what, k, (long long)e.frame,
              (long long)want);
        ++k;
    }
    size_t due = 0;
    for (auto& n : notes)
        due += n.start < untilBeat;
    CHECK(ons == due, "%s: %zu notes played, %zu due", what, ons, due);
}

static void checkBalanced(const std::vector<Event>& got, const char* what)
{
    int sounding[128] = {0};
    for (auto& e : got) {
        if ((e.status & 0xF0) == 0x90)
            sounding[e.d1]++;
        else if ((e.status & 0xF0) == 0x80 && sounding[e.d1] > 0)
            sounding[e.d1]--;
    }
    for (int p = 0; p < 128; ++p)
        CHECK(sounding[p] == 0, "%s: pitch %d left sounding", what, p);
}

int main()
{
    gPlayer->reset(48000.0);

    // 1. A long take at one tempo, odd block size: every onset on its exact frame.
    {
        Host h;
        h.tempo = {{0.0, 133.0}};
        auto notes = sixteenths(0.0, 256.0);
        load(notes);
        std::vector<Event> got;
        play(h, 0, std::llround(h.frameAt(256.0)), 333, kExact, got);
        checkOnsets(h, notes, got, 256.0, "steady 133 BPM");
        play(h, 0, 333, 333, kExact, got, false);   // stop
        checkBalanced(got, "steady");
        CHECK(got.back().status == 0xB0 && got.back().d1 == 123, "no All Notes Off at the stop");
    }
    // 2. Tempo changes, as each kind of host reports them, at several block sizes.
    for (uint32_t block : {64u, 256u, 1000u, 4096u}) {
        for (Style style : {kExact, kArdour, kMidCycle, kNoFrames, kSteady}) {
            gPlayer->reset(48000.0);
            Host h;
            h.tempo = {{0.0, 120.0}, {8.0, 150.0}, {16.5, 97.0}};
            auto notes = sixteenths(0.0, 24.0);
            load(notes);
            std::vector<Event> got;
            play(h, 0, std::llround(h.frameAt(24.0)), block, style, got);
            char what[80];
            std::snprintf(what, sizeof what, "tempo changes, block %u, %s", block, kStyleNames[style]);
            // a host that reports a change without its frame can only be followed from its report
            if (style == kNoFrames || style == kSteady)
                checkBalanced(got, what);
            else
                checkOnsets(h, notes, got, 24.0, what);
        }
    }
    // 3. A relocation while playing: everything off, then the notes from the new place.
    {
        gPlayer->reset(48000.0);
        Host h;
        auto notes = sixteenths(0.0, 32.0);
        for (auto& n : notes)
            n.end = n.start + 1.0;   // long notes, so some sound at the jump
        load(notes);
        std::vector<Event> got;
        play(h, 0, 100000, 256, kExact, got);
        const size_t mark = got.size();
        play(h, std::llround(h.frameAt(20.0)), std::llround(h.frameAt(24.0)), 256, kExact, got);
        bool offFirst = true;
        bool sawOn = false;
        for (size_t i = mark; i < got.size(); ++i) {
            if ((got[i].status & 0xF0) == 0x90)
                sawOn = true;
            else if (sawOn && got[i].frame == std::llround(h.frameAt(20.0)) && (got[i].status & 0xF0) == 0x80 &&
                     got[i].frame < got[mark].frame)
                offFirst = false;
        }
        CHECK(offFirst, "relocation: note-offs were not first");
        CHECK((got[mark].status & 0xF0) == 0x80 && got[mark].frame == std::llround(h.frameAt(20.0)),
              "relocation: nothing switched off at the jump");
        std::vector<Event> after(got.begin() + mark, got.end());
        std::vector<Player::Note> later;
        for (auto& n : notes)
            if (n.start >= 20.0)
                later.push_back(n);
        checkOnsets(h, later, after, 24.0, "after the jump");
    }
    // 3b. The same relocation where the frame count ignores it (CLAP): the beat tells.
    {
        gPlayer->reset(48000.0);
        Host h;
        auto notes = sixteenths(0.0, 32.0);
        load(notes);
        std::vector<Event> got;
        play(h, 0, 96000, 256, kSteady, got);
        const size_t mark = got.size();
        play(h, std::llround(h.frameAt(20.0)), std::llround(h.frameAt(24.0)), 256, kSteady, got);
        std::vector<Event> after(got.begin() + mark, got.end());
        std::vector<Player::Note> later;
        for (auto& n : notes)
            if (n.start >= 20.0)
                later.push_back(n);
        checkOnsets(h, later, after, 24.0, "after the jump, steady frames");
    }
    // 4. A full ring: the worker's push fails, the audio thread never waits.
    {
        Shared* s = new Shared();
        size_t pushed = 0;
        while (s->ring.push({NoteCmd::kNote, 0, 60, 90, 0.0, 1.0}))
            ++pushed;
        CHECK(pushed == kRingSize, "ring held %zu", pushed);
        NoteCmd c;
        size_t popped = 0;
        while (s->ring.pop(c))
            ++popped;
        CHECK(popped == kRingSize, "ring gave %zu", popped);
    }
    std::printf("%s (%d failures)\n", failures ? "FAILED" : "ok", failures);
    return failures ? 1 : 0;
}
