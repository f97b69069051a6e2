// What the plugin is, for DPF (https://github.com/DISTRHO/DPF, ISC licence), which builds the
// LV2, VST3 and CLAP formats from this one source.
//
// A MIDI generator: no audio in or out, MIDI out (the engine's notes), MIDI in (CC 20 / 21
// steer valence / arousal, as `synesthete stream --steer` reads them), the host's transport.
#pragma once

#define DISTRHO_PLUGIN_BRAND   "Synesthete"
#define DISTRHO_PLUGIN_NAME    "Synesthete"
#define DISTRHO_PLUGIN_URI     "urn:synesthete:plugin"
#define DISTRHO_PLUGIN_CLAP_ID "org.synesthete.plugin"

#define DISTRHO_PLUGIN_HAS_UI          0   // hosts show the parameters; the picture is a file parameter (LV2)
#define DISTRHO_PLUGIN_IS_RT_SAFE      1
#define DISTRHO_PLUGIN_IS_SYNTH        0
#define DISTRHO_PLUGIN_NUM_INPUTS      0
#define DISTRHO_PLUGIN_NUM_OUTPUTS     0
#define DISTRHO_PLUGIN_WANT_MIDI_INPUT  1
#define DISTRHO_PLUGIN_WANT_MIDI_OUTPUT 1
#define DISTRHO_PLUGIN_WANT_TIMEPOS    1
#define DISTRHO_PLUGIN_WANT_STATE      1
#define DISTRHO_PLUGIN_WANT_FULL_STATE 1
#define DISTRHO_PLUGIN_WANT_PROGRAMS   0
#define DISTRHO_PLUGIN_WANT_LATENCY    0

#define DISTRHO_PLUGIN_LV2_CATEGORY    "lv2:MIDIPlugin"
#define DISTRHO_PLUGIN_VST3_CATEGORIES "Fx|Generator"
#define DISTRHO_PLUGIN_CLAP_FEATURES   "note-effect"

// For DPF versions with the Audio Unit wrapper (newer than Debian's 1.6; macOS, untested):
// a MIDI processor ('aumi') with its four-character brand and plugin codes.
#define DISTRHO_PLUGIN_AU_TYPE   aumi
#define DISTRHO_PLUGIN_BRAND_ID  Snst
#define DISTRHO_PLUGIN_UNIQUE_ID Syne
