// See Worker.hpp.
#include "Worker.hpp"

#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifdef _WIN32
# include <locale.h>
#else
# include <locale.h>
# ifdef __APPLE__
#  include <xlocale.h>
# endif
#endif

#include "Json.hpp"

namespace synesthete {

namespace {

constexpr auto kStep = std::chrono::milliseconds(5);
constexpr auto kSettle = std::chrono::milliseconds(300);     // a project's state arrives key by key
constexpr auto kConnectEvery = std::chrono::milliseconds(250);
constexpr auto kStartEvery = std::chrono::seconds(30);
constexpr auto kPingEvery = std::chrono::seconds(1);
constexpr auto kRetryAfterError = std::chrono::seconds(2);
constexpr double kNever = -1e300;

std::string num(double x)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.9g", x);   // the worker thread's numeric locale is "C"
    return buf;
}

// A knob's float as the short decimal a user would type: 0.5 stays "0.5", 1.2f becomes "1.2".
std::string knob(float x)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", double(x));
    return buf;
}

bool sameVA(float v1, float a1, float v2, float a2)
{
    return std::fabs(v1 - v2) < 5e-4f && std::fabs(a1 - a2) < 5e-4f;
}

}  // namespace

Worker::Worker(Shared& shared) : shared_(shared)
{
    link_.setCancel(&quit_);
    const char* a = std::getenv("SYNESTHETE_AUTOSTART");
    autostart_ = !(a && std::strcmp(a, "0") == 0);
}

Worker::~Worker()
{
    stop();
}

void Worker::start()
{
    if (thread_.joinable())
        return;
    for (uint32_t slot = 0; slot < kSlots; ++slot)   // the Player starts (again) with empty tables
        slotPiece_[slot] = -1;
    lastKey_.clear();
    quit_ = false;
    thread_ = std::thread([this] { run(); });
}

void Worker::stop()
{
    quit_ = true;
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
    link_.close();
}

void Worker::setPicture(const std::string& path)
{
    std::lock_guard<std::mutex> lock(stateMutex_);
    if (path == picturePath_)
        return;
    picturePath_ = path;
    ++stateSerial_;
    stateChanged_ = Clock::now();
}

void Worker::setPictureData(const std::string& json)
{
    std::lock_guard<std::mutex> lock(stateMutex_);
    if (json == pictureData_)
        return;
    pictureData_ = json;
    ++stateSerial_;
    stateChanged_ = Clock::now();
}

std::string Worker::picture() const
{
    std::lock_guard<std::mutex> lock(stateMutex_);
    return picturePath_;
}

std::string Worker::pictureData() const
{
    std::lock_guard<std::mutex> lock(stateMutex_);
    return pictureData_;
}

void Worker::run()
{
    // Numbers in requests and answers are C-locale JSON, whatever the host's locale is.
#ifdef _WIN32
    _configthreadlocale(_ENABLE_PER_THREAD_LOCALE);
    std::setlocale(LC_NUMERIC, "C");
#else
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c)
        uselocale(c);
#endif
    while (!quit_) {
        step();
        std::unique_lock<std::mutex> lock(wakeMutex_);
        wake_.wait_for(lock, kStep, [this] { return quit_.load(); });
    }
#ifndef _WIN32
    if (c) {
        uselocale(LC_GLOBAL_LOCALE);
        freelocale(c);
    }
#endif
}

Worker::Settings Worker::settings() const
{
    auto p = [this](Param i) { return shared_.params[i].load(std::memory_order_relaxed); };
    Settings s;
    s.valence = p(kValence);
    s.arousal = p(kArousal);
    s.intensity = p(kIntensity);
    s.variety = p(kVariety);
    s.spread = p(kSpread);
    s.humanize = p(kHumanize);
    s.bars = std::max(1, std::min(64, (int)std::lround(p(kBars))));
    s.seed = std::max(0, (int)std::lround(p(kSeed)));
    s.key = std::max(0, std::min(24, (int)std::lround(p(kKey))));
    s.loop = p(kLoop) > 0.5f;
    s.follow = p(kPlayOnTransport) > 0.5f;
    return s;
}

// The VA asked for now: the knobs (automation included) until a CC 20/21 arrives, then the CC,
// until a knob moves again.
void Worker::followVA(const Settings& s)
{
    if (s.valence != knobValence_ || s.arousal != knobArousal_) {
        knobValence_ = s.valence;
        knobArousal_ = s.arousal;
        curValence_ = s.valence;
        curArousal_ = s.arousal;
    }
    const uint32_t serial = shared_.ccSerial.load(std::memory_order_acquire);
    if (serial != ccSerial_) {
        ccSerial_ = serial;
        const uint32_t axes = shared_.ccAxes.load(std::memory_order_relaxed);
        if (axes & 1)
            curValence_ = shared_.ccValence.load(std::memory_order_relaxed);
        if (axes & 2)
            curArousal_ = shared_.ccArousal.load(std::memory_order_relaxed);
    }
}

void Worker::say(const char* kind, const std::string& text)
{
    const auto now = Clock::now();
    auto it = said_.find(kind);
    if (it != said_.end() && now - it->second < std::chrono::seconds(10))
        return;
    said_[kind] = now;
    std::fprintf(stderr, "Synesthete: %s\n", text.c_str());
    std::fflush(stderr);
}

void Worker::lost(const std::string& why)
{
    link_.close();
    say("lost", "lost the engine (" + why + "): playing what is already composed, then silence");
    nextConnect_ = Clock::now();
    setStatus(kNoEngine);
}

// Connected to the engine, or trying: starts `synesthete serve` when nobody answers.
bool Worker::engineReady()
{
    const auto now = Clock::now();
    if (link_.connected()) {
        if (now - lastCall_ > kPingEvery) {
            std::string answer, why;
            lastCall_ = now;
            if (!link_.call("{\"op\":\"hello\"}", answer, 3000, why)) {
                lost(why);
                return false;
            }
        }
        return true;
    }
    if (now < nextConnect_)
        return false;
    nextConnect_ = now + kConnectEvery;
    std::string why;
    if (link_.connect(why)) {
        if (connectedOnce_)
            say("back", "the engine is back");
        else
            say("connected", "connected to the engine at " + EngineLink::socketPath());
        connectedOnce_ = true;
        lastCall_ = now;
        startingUntil_ = now;
        return true;
    }
    if (autostart_ && now >= nextStart_) {
        nextStart_ = now + kStartEvery;
        startingUntil_ = now + kStartEvery;
        std::string what;
        const bool ok = EngineLink::startEngine(what);
        say("start", std::string(ok ? "no engine running: started " : "could not start the engine: ") + what);
    }
    setStatus(now < startingUntil_ ? kStarting : kNoEngine);
    if (now >= startingUntil_)
        say("missing", "no engine (" + why + "): silent until one runs (synesthete serve)");
    return false;
}

// The picture in use: from the saved project (its encoding travels with it), or a new path to
// encode. False while a new picture is being read.
bool Worker::pictureReady()
{
    std::string path, data;
    bool changed = false;
    {
        std::lock_guard<std::mutex> lock(stateMutex_);
        if (stateSerial_ != seenStateSerial_) {
            if (Clock::now() - stateChanged_ < kSettle)
                return false;
            seenStateSerial_ = stateSerial_;
            path = picturePath_;
            data = pictureData_;
            changed = true;
        }
    }
    if (changed) {
        encodePath_.clear();
        pictureError_ = false;
        JsonValue saved;
        std::string err;
        const bool haveData = !data.empty() && JsonParser::parse(data, saved, err) && saved.get("path") &&
                              saved.get("memory") && saved.get("va");
        if (path.empty()) {
            pictureJson_.clear();
            pictureSha_.clear();
            shared_.pictureValence.store(0.0f);
            shared_.pictureArousal.store(0.0f);
        } else if (haveData && saved.get("path")->text == path) {
            pictureJson_ = data;                       // reopened project: no need for the file
            pictureSha_ = saved.get("sha256") ? saved.get("sha256")->text : data.substr(0, 64);
            const JsonValue* va = saved.get("va");
            if (va->items.size() == 2) {
                shared_.pictureValence.store((float)va->items[0].number);
                shared_.pictureArousal.store((float)va->items[1].number);
            }
        } else {
            encodePath_ = path;
        }
    }
    if (encodePath_.empty())
        return true;
    std::string answer, why;
    lastCall_ = Clock::now();
    if (!link_.call("{\"op\":\"picture\",\"path\":" + jsonString(encodePath_) + "}", answer, 30000, why)) {
        lost(why);
        return false;
    }
    JsonValue got;
    std::string err;
    if (!JsonParser::parse(answer, got, err) || !got.get("ok") || !got.get("ok")->isTrue()) {
        const JsonValue* e = got.get("error");
        say("picture", "cannot use the picture: " + (e ? e->text : err));
        pictureError_ = true;                          // shown until another picture is chosen
        encodePath_.clear();
        return true;                                   // carry on with the picture we had
    }
    pictureJson_ = answer;
    pictureSha_ = got.get("sha256") ? got.get("sha256")->text : std::string();
    const JsonValue* va = got.get("va");
    if (va && va->items.size() == 2) {
        shared_.pictureValence.store((float)va->items[0].number);
        shared_.pictureArousal.store((float)va->items[1].number);
    }
    {
        std::lock_guard<std::mutex> lock(stateMutex_);
        pictureData_ = answer;                         // saved with the project from now on
        seenStateSerial_ = stateSerial_;
    }
    encodePath_.clear();
    say("picture-ok", "picture " + (got.get("name") ? got.get("name")->text : std::string()) + " read");
    return true;
}

// The first bar line of piece `index` (0-based bar in the piece) far enough ahead for the
// engine to recompose the piece before it sounds; `bars` when none is left in the piece.
int Worker::safeBar(int index, const Settings& s, double beat, double bpm) const
{
    double perBar = 0.0;                 // the slowest of the last answers, with room to spare:
    for (double x : perBar_)             // a turn heard a bar later beats a bar half composed
        perBar = std::max(perBar, x);
    const double margin = std::max(0.3, 1.5 * perBar * s.bars + 0.25);
    const double start = double(index) * s.bars * 4.0;
    for (int j = 0; j < s.bars; ++j)
        if ((start + 4.0 * j - beat) * 60.0 / std::max(1.0, bpm) >= margin)
            return j;
    return s.bars;
}

bool Worker::compose(int index, const Settings& s, const std::string& key, float v, float a,
                     const std::vector<Turn>& turns, double from)
{
    std::string req = "{\"op\":\"piece\",\"settings\":" + key.substr(0, key.find('|')) + ",\"shift\":[" + knob(v) +
                      "," + knob(a) + "],\"tempo\":" + num(shared_.bpm.load()) + ",\"piece\":" +
                      std::to_string(index + 1) + ",\"turns\":[";
    for (size_t i = 0; i < turns.size(); ++i)
        req += (i ? ",[" : "[") + std::to_string(turns[i].bar) + "," + knob(turns[i].valence) + "," +
               knob(turns[i].arousal) + "]";
    req += "]";
    if (!pictureJson_.empty())
        req += ",\"picture\":" + pictureJson_;
    req += "}";

    std::string answer, why;
    const auto t0 = Clock::now();
    lastCall_ = t0;
    if (!link_.call(req, answer, 30000 + 1000 * s.bars, why)) {
        lost(why);
        return false;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    JsonValue got;
    std::string err;
    if (!JsonParser::parse(answer, got, err) || !got.get("ok") || !got.get("ok")->isTrue() ||
        !got.get("notes")) {
        const JsonValue* e = got.get("error");
        say("refused", "the engine refused piece " + std::to_string(index + 1) + ": " + (e ? e->text : err));
        engineError_ = true;
        retryAfter_ = Clock::now() + kRetryAfterError;
        return false;
    }
    engineError_ = false;
    if (!got.get("cached") || !got.get("cached")->isTrue()) {
        perBar_[perBarNext_] = seconds / s.bars;
        perBarNext_ = (perBarNext_ + 1) % 4;
    }

    Piece& pc = pieces_[index];
    pc.composed = true;
    pc.key = key;
    pc.valence = v;
    pc.arousal = a;
    pc.turns = turns;
    pc.version = ++versions_;
    pc.notes.clear();
    const double offset = double(index) * s.bars * 4.0;
    for (const JsonValue& n : got.get("notes")->items) {
        if (n.items.size() != 4)
            continue;
        const double start = n.items[0].number, dur = n.items[1].number;
        const int pitch = (int)n.items[2].number, vel = (int)n.items[3].number;
        if (!(std::isfinite(start) && std::isfinite(dur)) || pitch < 0 || pitch > 127 || vel < 1 || vel > 127)
            continue;
        pc.notes.push_back({offset + start, offset + start + std::max(0.0, dur), pitch, vel});
    }
    load(index, from);
    return true;
}

// Hand piece `index` to its Player slot: the notes from `from` on when the slot already holds
// an earlier composition of this piece (a turn, a change of settings), else the whole piece.
void Worker::load(int index, double from)
{
    const Piece& pc = pieces_[index];
    const uint32_t slot = uint32_t(index) % kSlots;
    if (slotPiece_[slot] != index)
        from = kNever;
    auto push = [this](const NoteCmd& c) {
        for (int tries = 0; !shared_.ring.push(c); ++tries) {   // full: the audio thread drains it
            if (quit_ || tries > 5000)
                return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return true;
    };
    if (!push({NoteCmd::kTruncate, (uint8_t)slot, 0, 0, from, 0.0}))
        return;
    for (const Note& n : pc.notes)
        if (n.start >= from && !push({NoteCmd::kNote, (uint8_t)slot, (uint8_t)n.pitch, (uint8_t)n.velocity, n.start, n.end}))
            return;
    slotPiece_[slot] = index;
    slotVersion_[slot] = pc.version;
}

void Worker::step()
{
    const Settings s = settings();
    if (s.follow)
        shared_.freeReady.store(false, std::memory_order_release);
    followVA(s);
    if (!engineReady() || !pictureReady())
        return;

    char buf[256];
    std::snprintf(buf, sizeof(buf),
                  "{\"bars\":%d,\"seed\":%d,\"key\":\"%s\",\"intensity\":%s,\"variety\":%s,\"spread\":%s,\"humanize\":%s}",
                  s.bars, s.seed, kKeyNames[s.key], knob(s.intensity).c_str(), knob(s.variety).c_str(),
                  knob(s.spread).c_str(), knob(s.humanize).c_str());
    const std::string key = std::string(buf) + "|" + pictureSha_;

    const double beat = shared_.beat.load(std::memory_order_relaxed);
    const double bpm = shared_.bpm.load(std::memory_order_relaxed);
    const bool rolling = shared_.rolling.load(std::memory_order_relaxed);
    const int current = std::max(0, (int)std::floor(beat / (s.bars * 4.0) + 1e-9));
    std::vector<int> wanted;
    if (s.loop)
        wanted = {current, current + 1};
    else
        wanted = {0};

    // New settings (or picture): no slot may keep notes of the old music where the playhead could
    // jump, so every slot but the playing piece's is emptied now; that one changes at a bar line.
    if (key != lastKey_) {
        for (uint32_t slot = 0; slot < kSlots; ++slot) {
            if (slotPiece_[slot] >= 0 && !(rolling && slotPiece_[slot] == current) &&
                shared_.ring.push({NoteCmd::kTruncate, (uint8_t)slot, 0, 0, kNever, 0.0}))
                slotPiece_[slot] = -1;
        }
        lastKey_ = key;
    }

    // Keep a few composed pieces for jumps back; forget the rest.
    while (pieces_.size() > 8) {
        auto far = pieces_.begin();
        for (auto it = pieces_.begin(); it != pieces_.end(); ++it)
            if (std::abs(it->first - current) > std::abs(far->first - current))
                far = it;
        pieces_.erase(far);
    }

    bool allLoaded = true;
    for (int q : wanted) {
        auto it = pieces_.find(q);
        const bool have = it != pieces_.end() && it->second.composed;
        const Piece* pc = have ? &it->second : nullptr;
        bool stale = !have || pc->key != key;
        const bool vaMoved = have && (!sameVA(pc->valence, pc->arousal, curValence_, curArousal_) || !pc->turns.empty());
        if (have && vaMoved && (!rolling || q > current))
            stale = true;                              // stopped, or not begun: the piece is for the VA now
        const uint32_t slot = uint32_t(q) % kSlots;
        if (!stale) {
            if (slotPiece_[slot] != q || slotVersion_[slot] != pc->version)
                load(q, kNever);                       // composed earlier, its slot reused since
            continue;
        }
        double from = kNever;
        if (have && rolling && q == current && slotPiece_[slot] == q) {
            const int bar = safeBar(q, s, beat, bpm);  // the settings changed under the piece playing
            if (bar >= s.bars) {
                // too late for this piece: it plays out as it was, the next one has the new settings
                pieces_[q].key = key;
                continue;
            }
            from = (double(q) * s.bars + bar) * 4.0;
        }
        allLoaded = false;
        if (Clock::now() < retryAfter_)
            continue;
        setStatus(kComposing);
        compose(q, s, key, curValence_, curArousal_, {}, from);
        return;                                        // one request per step: steering stays responsive
    }

    // Steering: the piece playing turns to the VA asked for now from the next bar line in reach.
    if (rolling && allLoaded && (s.loop || current == 0)) {
        Piece& pc = pieces_[current];
        const int bar = safeBar(current, s, beat, bpm);
        const int lastTurn = pc.turns.empty() ? -1 : pc.turns.back().bar;
        if (bar < s.bars && bar > lastTurn) {
            float v = pc.valence, a = pc.arousal;
            for (const Turn& t : pc.turns) {
                v = t.valence;
                a = t.arousal;
            }
            if (!sameVA(v, a, curValence_, curArousal_)) {
                std::vector<Turn> turns = pc.turns;
                turns.push_back({bar, curValence_, curArousal_});
                setStatus(kComposing);
                compose(current, s, key, pc.valence, pc.arousal, turns, (double(current) * s.bars + bar) * 4.0);
                return;
            }
        }
    }

    // Free-running (play on transport off): it starts when the music from its beat 0 is in.
    shared_.freeReady.store(!s.follow && (allLoaded || rolling), std::memory_order_release);
    if (link_.connected())
        setStatus(engineError_ || pictureError_ ? kEngineError : (allLoaded ? kReady : kComposing));
}

}  // namespace synesthete
