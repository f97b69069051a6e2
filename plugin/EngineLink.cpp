// See EngineLink.hpp. POSIX (Linux, macOS) is built and tested; the Windows branch (loopback TCP
// with the service's per-user token, CreateProcess) is prepared but has never run.
#include "EngineLink.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#ifdef _WIN32
# include <winsock2.h>
# include <ws2tcpip.h>
# include <windows.h>
#else
# include <fcntl.h>
# include <poll.h>
# include <signal.h>
# include <sys/resource.h>
# include <sys/socket.h>
# include <sys/stat.h>
# include <sys/un.h>
# include <sys/wait.h>
# include <time.h>
# include <unistd.h>
#endif

#include "Json.hpp"

namespace synesthete {

namespace {

std::string env(const char* name)
{
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

std::string trimmed(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '/'))
        s.pop_back();
    return s;
}

std::string configDir()
{
#ifdef _WIN32
    return env("APPDATA") + "\\Synesthete";
#elif defined(__APPLE__)
    return env("HOME") + "/Library/Application Support/Synesthete";
#else
    const std::string xdg = env("XDG_CONFIG_HOME");
    return (xdg.empty() ? env("HOME") + "/.config" : xdg) + "/synesthete";
#endif
}

std::string readFirstLine(const std::string& path)
{
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line))
        return trimmed(line);
    return std::string();
}

}  // namespace

#ifndef _WIN32
// =============================================================================================
// POSIX

std::string EngineLink::socketPath()
{
    const std::string given = env("SYNESTHETE_SOCKET");
    if (!given.empty())
        return given;
    const std::string run = trimmed(env("XDG_RUNTIME_DIR"));
    struct stat st;
    if (!run.empty() && ::stat(run.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        return run + "/synesthete/engine.sock";
    std::string tmp = trimmed(env("TMPDIR"));
    if (tmp.empty())
        tmp = "/tmp";
    return tmp + "/synesthete-" + std::to_string((unsigned long)::getuid()) + "/engine.sock";
}

bool EngineLink::connect(std::string& why)
{
    close();
    const std::string path = socketPath();
    const std::string dir = path.substr(0, path.find_last_of('/'));
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0) {
        why = "no engine running (" + dir + " does not exist)";
        return false;
    }
    // Someone else's directory could hold someone else's "engine": never talk to it.
    if (!S_ISDIR(st.st_mode) || st.st_uid != ::getuid() || (st.st_mode & 077) != 0) {
        why = dir + " is not a private directory of yours: not connecting";
        return false;
    }
    sockaddr_un addr;
    std::memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
        why = "socket path too long: " + path;
        return false;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        why = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);   // never leak into a process the host starts
#ifdef SO_NOSIGPIPE
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    if (::connect(fd, (const sockaddr*)&addr, sizeof(addr)) != 0) {
        why = "no engine at " + path + " (" + std::strerror(errno) + ")";
        ::close(fd);
        return false;
    }
    fd_ = fd;
    return true;
}

void EngineLink::close()
{
    if (fd_ >= 0)
        ::close((int)fd_);
    fd_ = -1;
}

static int64_t nowMs()
{
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool EngineLink::sendAll(const char* data, size_t size, int timeoutMs)
{
    const int64_t deadline = nowMs() + timeoutMs;
    while (size > 0) {
        pollfd p = {(int)fd_, POLLOUT, 0};
        const int64_t left = deadline - nowMs();
        if (left <= 0 || cancelled())
            return false;
        const int ready = ::poll(&p, 1, (int)std::min<int64_t>(left, 100));
        if (ready < 0 && errno != EINTR)
            return false;
        if (ready <= 0)
            continue;
#ifdef MSG_NOSIGNAL
        const ssize_t n = ::send((int)fd_, data, size, MSG_NOSIGNAL);
#else
        const ssize_t n = ::send((int)fd_, data, size, 0);
#endif
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

bool EngineLink::recvAll(char* data, size_t size, int timeoutMs)
{
    const int64_t deadline = nowMs() + timeoutMs;
    while (size > 0) {
        pollfd p = {(int)fd_, POLLIN, 0};
        const int64_t left = deadline - nowMs();
        if (left <= 0 || cancelled())
            return false;
        const int ready = ::poll(&p, 1, (int)std::min<int64_t>(left, 100));
        if (ready < 0 && errno != EINTR)
            return false;
        if (ready <= 0)
            continue;
        const ssize_t n = ::recv((int)fd_, data, size, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

// Start the engine in a session of its own. fork() in a host process: the child only calls
// async-signal-safe functions (setsid, dup2, close, execv) before it becomes the engine.
bool EngineLink::startEngine(std::string& what)
{
    std::string program = env("SYNESTHETE_ENGINE");
    if (program.empty())
        program = readFirstLine(configDir() + "/engine");
    if (program.empty())
        program = "synesthete";
    what = program + " serve --detach --idle-exit 600";

    std::vector<std::string> args = {program, "serve", "--detach", "--idle-exit", "600"};
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(&a[0]);
    argv.push_back(nullptr);

    struct rlimit rl;
    long maxFd = (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) ? long(rl.rlim_cur) : 4096;
    if (maxFd > 65536)
        maxFd = 65536;
    const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);

    const pid_t pid = ::fork();
    if (pid < 0) {
        if (devnull >= 0)
            ::close(devnull);
        what += std::string(": fork failed: ") + std::strerror(errno);
        return false;
    }
    if (pid == 0) {
        ::setsid();
        if (devnull >= 0) {
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
        }
        for (long fd = 3; fd < maxFd; ++fd)   // the host's files, sockets and devices stay the host's
            ::close(int(fd));
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (program.find('/') != std::string::npos)
            ::execv(argv[0], argv.data());
        else
            ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    if (devnull >= 0)
        ::close(devnull);
    // `serve --detach` returns as soon as it has forked the service; reap it so no zombie stays.
    int status = 0;
    for (int i = 0; i < 300; ++i) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (r < 0)
            return true;   // the host reaps its children itself
        ::usleep(20000);
    }
    return true;           // still starting in the foreground: the connection attempts will tell
}

#else
// =============================================================================================
// Windows: loopback TCP + the per-user token (prepared; not built or run in this project's CI)

std::string EngineLink::socketPath()
{
    const std::string given = env("SYNESTHETE_TCP_INFO");
    return given.empty() ? configDir() + "\\engine.json" : given;
}

bool EngineLink::connect(std::string& why)
{
    close();
    static bool wsa = false;
    if (!wsa) {
        WSADATA data;
        if (WSAStartup(MAKEWORD(2, 2), &data) != 0) {
            why = "WSAStartup failed";
            return false;
        }
        wsa = true;
    }
    std::ifstream in(socketPath(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    JsonValue info;
    std::string err;
    if (text.empty() || !JsonParser::parse(text, info, err) || !info.get("port") || !info.get("token")) {
        why = "no engine running (" + socketPath() + " missing or unreadable)";
        return false;
    }
    token_ = info.get("token")->text;
    SOCKET s = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) {
        why = "socket failed";
        return false;
    }
    sockaddr_in addr;
    std::memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((u_short)info.get("port")->number);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s, (const sockaddr*)&addr, sizeof(addr)) != 0) {
        ::closesocket(s);
        why = "no engine answering on 127.0.0.1";
        return false;
    }
    fd_ = (long long)s;
    return true;
}

void EngineLink::close()
{
    if (fd_ >= 0)
        ::closesocket((SOCKET)fd_);
    fd_ = -1;
}

bool EngineLink::sendAll(const char* data, size_t size, int timeoutMs)
{
    DWORD t = (DWORD)timeoutMs;
    ::setsockopt((SOCKET)fd_, SOL_SOCKET, SO_SNDTIMEO, (const char*)&t, sizeof(t));
    while (size > 0) {
        const int n = ::send((SOCKET)fd_, data, (int)size, 0);
        if (n <= 0)
            return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

bool EngineLink::recvAll(char* data, size_t size, int timeoutMs)
{
    DWORD t = (DWORD)timeoutMs;
    ::setsockopt((SOCKET)fd_, SOL_SOCKET, SO_RCVTIMEO, (const char*)&t, sizeof(t));
    while (size > 0) {
        const int n = ::recv((SOCKET)fd_, data, (int)size, 0);
        if (n <= 0)
            return false;
        data += n;
        size -= size_t(n);
    }
    return true;
}

bool EngineLink::startEngine(std::string& what)
{
    std::string program = env("SYNESTHETE_ENGINE");
    if (program.empty())
        program = readFirstLine(configDir() + "\\engine");
    if (program.empty())
        program = "synesthete.exe";
    std::string cmd = "\"" + program + "\" serve --tcp 0 --idle-exit 600";
    what = cmd;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    std::memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    std::memset(&pi, 0, sizeof(pi));
    std::vector<char> line(cmd.begin(), cmd.end());
    line.push_back('\0');
    if (!::CreateProcessA(nullptr, line.data(), nullptr, nullptr, FALSE,
                          DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW, nullptr, nullptr, &si, &pi))
        return false;
    ::CloseHandle(pi.hThread);
    ::CloseHandle(pi.hProcess);
    return true;
}
#endif

// =============================================================================================

bool EngineLink::call(const std::string& request, std::string& answer, int timeoutMs, std::string& why)
{
    if (fd_ < 0) {
        why = "not connected";
        return false;
    }
    std::string body = request;
    if (!token_.empty() && body.size() > 1 && body[0] == '{')   // TCP: every request carries the token
        body = "{\"token\":" + jsonString(token_) + (body[1] == '}' ? "" : ",") + body.substr(1);
    const uint32_t n = (uint32_t)body.size();
    const unsigned char head[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                                   (unsigned char)n};
    if (!sendAll((const char*)head, 4, timeoutMs) || !sendAll(body.data(), body.size(), timeoutMs)) {
        why = "the engine stopped listening";
        close();
        return false;
    }
    unsigned char got[4];
    if (!recvAll((char*)got, 4, timeoutMs)) {
        why = "the engine did not answer in time";
        close();
        return false;
    }
    const uint32_t len = (uint32_t(got[0]) << 24) | (uint32_t(got[1]) << 16) | (uint32_t(got[2]) << 8) | got[3];
    if (len > kMaxAnswer) {
        why = "the engine's answer is too large";
        close();
        return false;
    }
    answer.assign(len, '\0');
    if (len > 0 && !recvAll(&answer[0], len, timeoutMs)) {
        why = "the engine's answer was cut short";
        close();
        return false;
    }
    return true;
}

}  // namespace synesthete
