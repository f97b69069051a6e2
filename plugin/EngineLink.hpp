// The plugin's connection to the engine service (`synesthete serve`, engine/service/): find it,
// start it when none runs, and exchange framed JSON messages with it. Worker thread only.
//
// Where: the same rules as engine/service/protocol.py. On Linux and macOS a Unix socket at
// $SYNESTHETE_SOCKET, else $XDG_RUNTIME_DIR/synesthete/engine.sock, else
// ${TMPDIR:-/tmp}/synesthete-<uid>/engine.sock; the directory must be ours and closed to others
// (so nobody else can stand in for the engine). On Windows 127.0.0.1 and the port and token the
// service wrote to %APPDATA%\Synesthete\engine.json (prepared, untested).
//
// Framing: a 4-byte big-endian length, then UTF-8 JSON; answers are bounded (kMaxAnswer).
#pragma once

#include <atomic>
#include <string>

namespace synesthete {

class EngineLink {
public:
    static constexpr size_t kMaxAnswer = 16u << 20;

    EngineLink() = default;
    ~EngineLink() { close(); }
    EngineLink(const EngineLink&) = delete;
    EngineLink& operator=(const EngineLink&) = delete;

    // Connect to a running service; false (and `why`) when none answers at its address.
    bool connect(std::string& why);
    bool connected() const { return fd_ >= 0; }
    void close();

    // One request, one answer, within `timeoutMs`. On any failure the connection is closed.
    bool call(const std::string& request, std::string& answer, int timeoutMs, std::string& why);

    // A flag that, once set, makes a call in progress give up within 100 ms (the host is
    // removing the plugin and must not wait for a slow engine).
    void setCancel(const std::atomic<bool>* cancel) { cancel_ = cancel; }

    // Start `synesthete serve --detach` in the background: the program from $SYNESTHETE_ENGINE,
    // else the path the `--register` file names, else `synesthete` on PATH. `what` says which.
    static bool startEngine(std::string& what);

    static std::string socketPath();

private:
    bool sendAll(const char* data, size_t size, int timeoutMs);
    bool recvAll(char* data, size_t size, int timeoutMs);

    bool cancelled() const { return cancel_ != nullptr && cancel_->load(); }

    long long fd_ = -1;
    std::string token_;   // TCP only
    const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace synesthete
