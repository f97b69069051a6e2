// Just enough JSON for the engine's answers: a small recursive-descent parser (depth-limited)
// and string escaping for requests. Used on the worker thread only, never in the audio callback.
// Numbers are read with strtod: the worker thread sets the "C" numeric locale for itself, so a
// host running in a locale with decimal commas cannot change what "0.5" means.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace synesthete {

struct JsonValue {
    enum Type { Null, Bool, Number, String, Array, Object } type = Null;
    bool boolean = false;
    double number = 0.0;
    std::string text;
    std::vector<JsonValue> items;
    std::vector<std::pair<std::string, JsonValue>> members;

    const JsonValue* get(const char* key) const
    {
        for (const auto& m : members)
            if (m.first == key)
                return &m.second;
        return nullptr;
    }
    bool isTrue() const { return type == Bool && boolean; }
};

class JsonParser {
public:
    static bool parse(const std::string& text, JsonValue& out, std::string& error)
    {
        JsonParser p(text);
        if (!p.value(out, 0)) {
            error = p.error_.empty() ? "bad JSON" : p.error_;
            return false;
        }
        p.space();
        if (p.i_ != text.size()) {
            error = "trailing characters after JSON";
            return false;
        }
        return true;
    }

private:
    explicit JsonParser(const std::string& t) : s_(t) {}

    void space()
    {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
            ++i_;
    }
    bool fail(const char* why)
    {
        error_ = why;
        return false;
    }
    bool literal(const char* word)
    {
        size_t n = 0;
        while (word[n])
            ++n;
        if (s_.compare(i_, n, word) != 0)
            return fail("bad literal");
        i_ += n;
        return true;
    }

    bool value(JsonValue& v, int depth)
    {
        if (depth > 32)
            return fail("JSON nests too deeply");
        space();
        if (i_ >= s_.size())
            return fail("unexpected end of JSON");
        const char c = s_[i_];
        if (c == '{')
            return object(v, depth);
        if (c == '[')
            return array(v, depth);
        if (c == '"') {
            v.type = JsonValue::String;
            return string(v.text);
        }
        if (c == 't') { v.type = JsonValue::Bool; v.boolean = true; return literal("true"); }
        if (c == 'f') { v.type = JsonValue::Bool; v.boolean = false; return literal("false"); }
        if (c == 'n') { v.type = JsonValue::Null; return literal("null"); }
        return number(v);
    }

    bool number(JsonValue& v)
    {
        const char* begin = s_.c_str() + i_;
        char* end = nullptr;
        v.number = std::strtod(begin, &end);
        if (end == begin)
            return fail("bad number");
        i_ += size_t(end - begin);
        v.type = JsonValue::Number;
        return true;
    }

    static void utf8(std::string& out, uint32_t cp)
    {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }

    bool hex4(uint32_t& cp)
    {
        if (i_ + 4 > s_.size())
            return fail("bad \\u escape");
        cp = 0;
        for (int k = 0; k < 4; ++k) {
            const char h = s_[i_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= uint32_t(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= uint32_t(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= uint32_t(h - 'A' + 10);
            else return fail("bad \\u escape");
        }
        return true;
    }

    bool string(std::string& out)
    {
        ++i_;  // opening quote
        out.clear();
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"')
                return true;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size())
                break;
            const char e = s_[i_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xD800 && cp < 0xDC00 && i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                    i_ += 2;
                    uint32_t lo;
                    if (!hex4(lo))
                        return false;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                utf8(out, cp);
                break;
            }
            default:
                return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }

    bool array(JsonValue& v, int depth)
    {
        ++i_;
        v.type = JsonValue::Array;
        space();
        if (i_ < s_.size() && s_[i_] == ']') {
            ++i_;
            return true;
        }
        for (;;) {
            v.items.emplace_back();
            if (!value(v.items.back(), depth + 1))
                return false;
            space();
            if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
            if (i_ < s_.size() && s_[i_] == ']') { ++i_; return true; }
            return fail("expected , or ] in array");
        }
    }

    bool object(JsonValue& v, int depth)
    {
        ++i_;
        v.type = JsonValue::Object;
        space();
        if (i_ < s_.size() && s_[i_] == '}') {
            ++i_;
            return true;
        }
        for (;;) {
            space();
            if (i_ >= s_.size() || s_[i_] != '"')
                return fail("expected a key");
            std::string key;
            if (!string(key))
                return false;
            space();
            if (i_ >= s_.size() || s_[i_] != ':')
                return fail("expected :");
            ++i_;
            v.members.emplace_back(std::move(key), JsonValue());
            if (!value(v.members.back().second, depth + 1))
                return false;
            space();
            if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
            if (i_ < s_.size() && s_[i_] == '}') { ++i_; return true; }
            return fail("expected , or } in object");
        }
    }

    const std::string& s_;
    size_t i_ = 0;
    std::string error_;
};

// `text` as a JSON string literal, quotes included.
inline std::string jsonString(const std::string& text)
{
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                static const char* hex = "0123456789abcdef";
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += char(c);
            }
        }
    }
    return out + "\"";
}

}  // namespace synesthete
