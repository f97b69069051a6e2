// The worker thread: everything slow happens here, never on the audio thread.
//
// Every few milliseconds it reads the parameters and the playhead the audio thread published,
// keeps the engine service connected (starting it when none runs), and makes sure the piece
// playing and the next one are composed and handed to the Player through the lock-free ring —
// a whole piece ahead, at least a bar. A change of settings recomposes from the next bar line
// the engine can make in time; a change of valence/arousal while playing (automation, or CC
// 20/21) becomes a *turn* from that bar line on, exactly as `stream --steer` re-aims the model
// at a bar line. Composing is deterministic, so a turn only replaces the notes from its bar on.
//
// If the engine is slow, the notes arrive late and the ones already due are skipped (never
// played late); if it is gone, the Player plays what it already has, then silence, the status
// parameter says so, and the worker starts the engine again and carries on where the host is.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "EngineLink.hpp"
#include "Shared.hpp"

namespace synesthete {

class Worker {
public:
    explicit Worker(Shared& shared);
    ~Worker();

    void start();
    void stop();

    // Main thread (the host's state): the picture's path, and what the engine made of it.
    void setPicture(const std::string& path);
    void setPictureData(const std::string& json);
    std::string picture() const;
    std::string pictureData() const;

private:
    using Clock = std::chrono::steady_clock;

    struct Settings {
        float valence, arousal, intensity, variety, spread, humanize;
        int bars, seed, key;
        bool loop, follow;
    };
    struct Turn {
        int bar;
        float valence, arousal;
    };
    struct Note {
        double start, end;
        int pitch, velocity;
    };
    struct Piece {
        bool composed = false;
        std::string key;              // settings + picture it was composed for
        float valence = 0, arousal = 0;
        std::vector<Turn> turns;
        std::vector<Note> notes;      // beats on the host's timeline
        uint64_t version = 0;         // bumped by every compose
    };

    void run();
    void step();
    Settings settings() const;
    void followVA(const Settings& s);
    bool engineReady();
    bool pictureReady();
    bool compose(int index, const Settings& s, const std::string& key, float v, float a,
                 const std::vector<Turn>& turns, double from);
    void load(int index, double from);
    int safeBar(int index, const Settings& s, double beat, double bpm) const;
    void lost(const std::string& why);
    void say(const char* kind, const std::string& text);
    void setStatus(int status) { shared_.status.store(status, std::memory_order_relaxed); }

    Shared& shared_;
    std::thread thread_;
    std::atomic<bool> quit_{false};
    std::mutex wakeMutex_;
    std::condition_variable wake_;

    // main thread <-> worker: the saved picture
    mutable std::mutex stateMutex_;
    std::string picturePath_, pictureData_;
    uint32_t stateSerial_ = 0;
    Clock::time_point stateChanged_{};

    // the worker's own
    EngineLink link_;
    bool autostart_ = true;
    Clock::time_point nextConnect_{}, nextStart_{}, startingUntil_{}, lastCall_{}, retryAfter_{};
    bool connectedOnce_ = false;
    std::map<std::string, Clock::time_point> said_;
    uint32_t seenStateSerial_ = 0;
    std::string pictureJson_, pictureSha_, encodePath_;
    float curValence_ = 0, curArousal_ = 0, knobValence_ = 2, knobArousal_ = 2;
    uint32_t ccSerial_ = 0;
    double perBar_[4] = {0.15, 0.15, 0.15, 0.15};   // seconds the engine took per bar, the last answers
    int perBarNext_ = 0;
    bool engineError_ = false, pictureError_ = false;
    std::map<int, Piece> pieces_;
    std::string lastKey_;
    uint64_t versions_ = 0;
    int slotPiece_[kSlots] = {-1, -1, -1};       // which piece each Player slot holds
    uint64_t slotVersion_[kSlots] = {0, 0, 0};  // and which composition of it
};

}  // namespace synesthete
