// Synesthete as a plugin: the host's timeline in, the engine's notes out (docs/PLUGIN.md).
//
// This file is the glue to DPF: the parameters the host automates and saves, the state (the
// picture), and run(), the audio callback, which only reads atomics, drains the lock-free ring
// and writes MIDI (Player.hpp). The music comes from the Python engine (`synesthete serve`),
// which the worker thread (Worker.hpp) talks to.
#include "DistrhoPlugin.hpp"

#include <cmath>
#include <cstring>

#include "Player.hpp"
#include "Worker.hpp"

START_NAMESPACE_DISTRHO

using namespace synesthete;

namespace {

struct ParamInfo {
    const char* symbol;
    const char* name;
    float def, min, max;
    uint32_t hints;
    const char* description;
};

constexpr uint32_t kAuto = kParameterIsAutomatable;

const ParamInfo kParams[kParamCount] = {
    {"valence", "Valence", 0.0f, -1.0f, 1.0f, kAuto,
     "Unpleasant (-1) to pleasant (+1); with a picture, a move of the picture's own valence. "
     "Steers from the next bar line while playing."},
    {"arousal", "Arousal", 0.0f, -1.0f, 1.0f, kAuto,
     "Calm (-1) to excited (+1); with a picture, a move of the picture's own arousal. "
     "Steers from the next bar line while playing."},
    {"intensity", "Intensity", 1.5f, 0.0f, 2.0f, kAuto, "How far from neutral the music goes (0 neutral, 1 as asked)."},
    {"variety", "Variety", 1.0f, 0.0f, 2.0f, kAuto, "How far a piece's density and loudness stray from its mood's."},
    {"spread", "Spread", 1.2f, 0.25f, 2.0f, kAuto, "How widely the notes spread over the octaves."},
    {"humanize", "Humanize", 0.0f, 0.0f, 1.0f, kAuto, "0: exactly on the grid; up: a player's timing and touch."},
    {"bars", "Bars", 8.0f, 1.0f, 64.0f, kAuto | kParameterIsInteger, "Bars in a piece."},
    {"seed", "Seed", 0.0f, 0.0f, 1000000.0f, kAuto | kParameterIsInteger, "Same seed and settings: same music."},
    {"key", "Key", 0.0f, 0.0f, 24.0f, kAuto | kParameterIsInteger, "auto: major when pleasant, else minor."},
    {"loop", "Loop", 1.0f, 0.0f, 1.0f, kAuto | kParameterIsBoolean | kParameterIsInteger,
     "On: piece after piece while the host plays. Off: one piece from bar 1."},
    {"play_on_transport", "Play on transport", 1.0f, 0.0f, 1.0f, kAuto | kParameterIsBoolean | kParameterIsInteger,
     "On: plays while the host plays, on its bars. Off: plays all the time at the host's tempo."},
    {"status", "Engine", 0.0f, 0.0f, 4.0f, kParameterIsOutput | kParameterIsInteger, "What the engine is doing."},
    {"bar", "Bar", 0.0f, 0.0f, 100000.0f, kParameterIsOutput | kParameterIsInteger, "The bar playing (0: stopped)."},
    {"picture_valence", "Picture valence", 0.0f, -1.0f, 1.0f, kParameterIsOutput, "The picture's own valence."},
    {"picture_arousal", "Picture arousal", 0.0f, -1.0f, 1.0f, kParameterIsOutput, "The picture's own arousal."},
};

const char* const kStatusNames[] = {"Starting engine", "Ready", "Composing", "No engine: silent", "Engine error"};

enum StateIndex : uint32_t { kStatePicture = 0, kStatePictureData, kStateCount };

}  // namespace

class SynesthetePlugin : public Plugin {
public:
    SynesthetePlugin()
        : Plugin(kParamCount, 0, kStateCount),
          worker_(shared_)
    {
        for (uint32_t i = 0; i < kParamCount; ++i)
            shared_.params[i].store(kParams[i].def);
        player_.reset(getSampleRate());
    }

    ~SynesthetePlugin() override { worker_.stop(); }

protected:
    const char* getLabel() const override { return "Synesthete"; }
    const char* getDescription() const override
    {
        return "Composes piano music from an emotion (valence/arousal) or a picture, on the host's own timeline.";
    }
    const char* getMaker() const override { return "Synesthete"; }
    const char* getHomePage() const override { return "https://github.com/synesthete/synesthete"; }
    const char* getLicense() const override { return "MIT"; }
    uint32_t getVersion() const override { return d_version(0, 1, 0); }
    int64_t getUniqueId() const override { return d_cconst('S', 'y', 'n', 'e'); }

    void initParameter(uint32_t index, Parameter& p) override
    {
        if (index >= kParamCount)
            return;
        const ParamInfo& info = kParams[index];
        p.hints = info.hints;
        p.name = info.name;
        p.symbol = info.symbol;
        p.description = info.description;
        p.ranges.def = info.def;
        p.ranges.min = info.min;
        p.ranges.max = info.max;
        if (index == kKey) {
            p.enumValues.count = 25;
            p.enumValues.restrictedMode = true;
            p.enumValues.values = new ParameterEnumerationValue[25];
            for (int k = 0; k < 25; ++k) {
                p.enumValues.values[k].value = float(k);
                p.enumValues.values[k].label = kKeyNames[k];
            }
        } else if (index == kStatus) {
            p.enumValues.count = 5;
            p.enumValues.restrictedMode = true;
            p.enumValues.values = new ParameterEnumerationValue[5];
            for (int k = 0; k < 5; ++k) {
                p.enumValues.values[k].value = float(k);
                p.enumValues.values[k].label = kStatusNames[k];
            }
        }
    }

    void initState(uint32_t index, State& state) override
    {
        if (index == kStatePicture) {
            state.key = "picture";
            state.label = "Picture";
            state.hints = kStateIsFilenamePath;
            state.description = "The picture whose emotion and look the music follows.";
        } else if (index == kStatePictureData) {
            state.key = "picture_data";
            state.label = "Picture data";
            state.hints = kStateIsOnlyForDSP;
            state.description = "What the engine read in the picture (its VA and encoding), so the project "
                                "plays the same music without the file.";
        }
    }

    float getParameterValue(uint32_t index) const override
    {
        switch (index) {
        case kStatus: return float(shared_.status.load(std::memory_order_relaxed));
        case kBarOut: return barOut_;
        case kPictureValence: return shared_.pictureValence.load(std::memory_order_relaxed);
        case kPictureArousal: return shared_.pictureArousal.load(std::memory_order_relaxed);
        default: return index < kParamCount ? shared_.params[index].load(std::memory_order_relaxed) : 0.0f;
        }
    }

    void setParameterValue(uint32_t index, float value) override
    {
        if (index < kParamCount && !(kParams[index].hints & kParameterIsOutput) && std::isfinite(value))
            shared_.params[index].store(std::fmin(kParams[index].max, std::fmax(kParams[index].min, value)),
                                        std::memory_order_relaxed);
    }

    String getState(const char* key) const override
    {
        if (std::strcmp(key, "picture") == 0)
            return String(worker_.picture().c_str());
        if (std::strcmp(key, "picture_data") == 0)
            return String(worker_.pictureData().c_str());
        return String();
    }

    void setState(const char* key, const char* value) override
    {
        if (std::strcmp(key, "picture") == 0)
            worker_.setPicture(value ? value : "");
        else if (std::strcmp(key, "picture_data") == 0)
            worker_.setPictureData(value ? value : "");
    }

    // The worker (and with it the engine) starts when the host puts the plugin to use, not when
    // it only looks at it (plugin scans, DPF's LV2 description generator).
    void activate() override
    {
        player_.reset(getSampleRate());
        worker_.start();
    }
    void deactivate() override { worker_.stop(); }
    void sampleRateChanged(double newSampleRate) override { player_.reset(newSampleRate); }

    void run(const float**, float**, uint32_t frames, const MidiEvent* midi, uint32_t midiCount) override
    {
        // CC 20 / 21 on the input move the valence / arousal controls (0 -> -1, 127 -> +1) and steer
        // from the next bar line, as in `stream --steer`.
        for (uint32_t i = 0; i < midiCount; ++i) {
            const MidiEvent& e = midi[i];
            if (e.size != 3 || (e.data[0] & 0xF0) != 0xB0 || (e.data[1] != 20 && e.data[1] != 21))
                continue;
            const float v = float(e.data[2]) / 127.0f * 2.0f - 1.0f;
            if (e.data[1] == 20) {
                shared_.ccValence.store(v, std::memory_order_relaxed);
                shared_.ccAxes.fetch_or(1, std::memory_order_relaxed);
            } else {
                shared_.ccArousal.store(v, std::memory_order_relaxed);
                shared_.ccAxes.fetch_or(2, std::memory_order_relaxed);
            }
            shared_.ccSerial.fetch_add(1, std::memory_order_release);
        }

        const TimePosition& t = getTimePosition();
        HostPosition pos;
        pos.playing = t.playing;
        pos.frame = int64_t(t.frame);
        pos.valid = t.bbt.valid && t.bbt.beatsPerMinute > 0.0 && t.bbt.ticksPerBeat > 0.0 && t.bbt.beatsPerBar > 0.0f;
        if (pos.valid) {
            const double quarters = 4.0 / (t.bbt.beatType > 0.0f ? t.bbt.beatType : 4.0);   // host beats -> quarters
            pos.beat = ((t.bbt.bar - 1) * double(t.bbt.beatsPerBar) + (t.bbt.beat - 1) +
                        t.bbt.tick / t.bbt.ticksPerBeat) * quarters;
            pos.bpm = t.bbt.beatsPerMinute * quarters;
        }
        const bool follow = shared_.params[kPlayOnTransport].load(std::memory_order_relaxed) > 0.5f;
        const uint32_t n = player_.process(pos, follow, frames, shared_, out_);
        for (uint32_t i = 0; i < n; ++i) {
            MidiEvent ev;
            ev.frame = out_[i].frame;
            ev.size = out_[i].size;
            std::memcpy(ev.data, out_[i].data, 3);
            ev.data[3] = 0;
            ev.dataExt = nullptr;
            writeMidiEvent(ev);
        }
        barOut_ = shared_.rolling.load(std::memory_order_relaxed)
                      ? float(std::floor(shared_.beat.load(std::memory_order_relaxed) / 4.0) + 1.0)
                      : 0.0f;
    }

private:
    Shared shared_;
    Player player_;
    Worker worker_;
    MidiOut out_[Player::kMaxOut];
    float barOut_ = 0.0f;

    DISTRHO_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(SynesthetePlugin)
};

Plugin* createPlugin()
{
    return new SynesthetePlugin();
}

END_NAMESPACE_DISTRHO
