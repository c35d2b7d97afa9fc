// tcp/*, unix/*, dns/resolve (docs/io.md#tcp): sockets as byte streams.
#include <string>

#include "aio/handle.h"
#include "aio/stream.h"
#include "io/dns.h"
#include "io/tcp.h"
#include "core/printer.h"
#include "lib/builtins.h"

namespace valk {

namespace {

// Options plists: unknown keys are refused with the list of known ones, so
// that a misspelled option is not silently ignored.
struct Opts {
  const char* fn;
  Value plist;
  Value err = kNil;

  bool check(std::initializer_list<const char*> known) {
    if (plist == kNil) return true;
    if (!is_list(plist)) {
      err = make_error(std::string(fn) + ": options must be a plist, got " + type_name(plist));
      return false;
    }
    for (Value p = plist; p != kNil; p = cdr(p)) {
      Value k = car(p);
      bool ok = false;
      for (const char* n : known) ok = ok || (is_keyword(k) && as_symbol(k)->view() == n);
      if (!ok) {
        std::string list;
        for (const char* n : known) list += (list.empty() ? "" : " ") + std::string(n);
        err = make_error(std::string(fn) + ": unknown option " + display_string(k) + " (known: " + list + ")");
        return false;
      }
      p = cdr(p);
      if (p == kNil) {
        err = make_error(std::string(fn) + ": option " + display_string(k) + " has no value");
        return false;
      }
    }
    return true;
  }
  Value get(const char* key) {
    Value v = plist == kNil ? kUnbound : plist_lookup(plist, intern(key));
    return v;
  }
  bool boolean(const char* key, bool& out) {
    Value v = get(key);
    if (v != kUnbound) out = truthy(v);
    return true;
  }
  bool integer(const char* key, int64_t& out, int64_t min) {
    Value v = get(key);
    if (v == kUnbound) return true;
    if (!is_int(v) || int_val(v) < min) {
      err = make_error(std::string(fn) + ": option " + key + " must be an integer >= " +
                       std::to_string(min) + ", got " + display_string(v));
      return false;
    }
    out = int_val(v);
    return true;
  }
  bool string(const char* key, std::string& out) {
    Value v = get(key);
    if (v == kUnbound) return true;
    if (!is_string(v)) {
      err = make_error(std::string(fn) + ": option " + key + " must be a string, got " + type_name(v));
      return false;
    }
    out = std::string(as_string(v)->view());
    return true;
  }
};

bool port_arg(Value v, int& port) {
  if (!is_int(v) || int_val(v) < 0 || int_val(v) > 65535) return false;
  port = int(int_val(v));
  return true;
}

bool connect_options(Opts& o, io::ConnectOptions& co) {
  if (!o.check({":tls", ":insecure", ":ca-file", ":server-name", ":idle-timeout-ms"})) return false;
  bool insecure = false;
  return o.boolean(":tls", co.tls) && o.boolean(":insecure", insecure) && (co.verify = !insecure, true) &&
         o.string(":ca-file", co.ca_file) && o.string(":server-name", co.server_name) &&
         o.integer(":idle-timeout-ms", co.idle_timeout_ms, 0);
}

bool listen_options(Opts& o, io::ListenOptions& lo, bool tcp) {
  if (tcp ? !o.check({":host", ":max-connections", ":idle-timeout-ms", ":cert", ":key", ":reuseport",
                      ":backlog"})
          : !o.check({":max-connections", ":idle-timeout-ms", ":backlog"}))
    return false;
  int64_t backlog = lo.backlog;
  bool ok = o.string(":host", lo.host) && o.integer(":max-connections", lo.max_connections, 1) &&
            o.integer(":idle-timeout-ms", lo.idle_timeout_ms, 0) && o.string(":cert", lo.cert) &&
            o.string(":key", lo.key) && o.boolean(":reuseport", lo.reuseport) &&
            o.integer(":backlog", backlog, 1);
  lo.backlog = int(std::min<int64_t>(backlog, 65535));
  if (ok && lo.cert.empty() != lo.key.empty()) {
    o.err = make_error(std::string(o.fn) + ": :cert and :key go together");
    return false;
  }
  return ok;
}

// (tcp/connect host port [opts]) => handle of a stream.
// opts: :tls :insecure :ca-file :server-name :idle-timeout-ms
Value b_tcp_connect(VM& vm, Value* args, int argc) {
  VALK_CHECK(is_string(args[0]), "tcp/connect", 0, "a host name or address (string)");
  int port;
  if (!port_arg(args[1], port)) return bad_arg("tcp/connect", 1, "a port (0 to 65535)", args[1]);
  Opts o{"tcp/connect", argc > 2 ? args[2] : kNil};
  io::ConnectOptions co;
  if (!connect_options(o, co)) return o.err;
  return aio::handle_value(io::tcp_connect(vm, std::string(as_string(args[0])->view()), port, co));
}

// (tcp/listen port handler [opts]) => the server, or an error value.
// opts: :host :max-connections :idle-timeout-ms :cert :key :reuseport :backlog
Value b_tcp_listen(VM& vm, Value* args, int argc) {
  int port;
  if (!port_arg(args[0], port)) return bad_arg("tcp/listen", 0, "a port (0 to 65535)", args[0]);
  VALK_CHECK(is_function(args[1]), "tcp/listen", 1, "a handler function");
  Opts o{"tcp/listen", argc > 2 ? args[2] : kNil};
  io::ListenOptions lo;
  if (!listen_options(o, lo, true)) return o.err;
  return io::tcp_listen(vm, port, args[1], lo);
}

// (unix/connect path [opts]) => handle of a stream.
Value b_unix_connect(VM& vm, Value* args, int argc) {
  VALK_CHECK(is_string(args[0]), "unix/connect", 0, "a socket path (string)");
  Opts o{"unix/connect", argc > 1 ? args[1] : kNil};
  io::ConnectOptions co;
  if (!o.check({":idle-timeout-ms"}) || !o.integer(":idle-timeout-ms", co.idle_timeout_ms, 0)) return o.err;
  return aio::handle_value(io::unix_connect(vm, std::string(as_string(args[0])->view()), co));
}

// (unix/listen path handler [opts]) => the server, or an error value.
Value b_unix_listen(VM& vm, Value* args, int argc) {
  VALK_CHECK(is_string(args[0]), "unix/listen", 0, "a socket path (string)");
  VALK_CHECK(is_function(args[1]), "unix/listen", 1, "a handler function");
  Opts o{"unix/listen", argc > 2 ? args[2] : kNil};
  io::ListenOptions lo;
  if (!listen_options(o, lo, false)) return o.err;
  return io::unix_listen(vm, std::string(as_string(args[0])->view()), args[1], lo);
}

// (tcp/port server) => the port it listens on.
Value b_tcp_port(VM&, Value* args, int) {
  VALK_CHECK(io::is_server(args[0]), "tcp/port", 0, "a tcp server");
  return make_fix(io::server_port(args[0]));
}

// (tcp/close server-or-stream) => a handle completing when it is closed.
// A server stops accepting and closes its connections; a stream sends what
// is queued, then closes (as stream/close).
Value b_tcp_close(VM& vm, Value* args, int) {
  if (io::is_server(args[0])) return aio::return_draining(vm, aio::handle_value(io::server_close(vm, args[0])));
  if (aio::is_stream(args[0])) {
    aio::ByteStream* s = aio::as_stream(args[0]);
    aio::Handle* h = aio::closed_handle(vm, s);
    aio::close(s);
    return aio::return_draining(vm, aio::handle_value(h));
  }
  return bad_arg("tcp/close", 0, "a tcp server or a stream", args[0]);
}

Value b_is_server(VM&, Value* args, int) { return make_bool(io::is_server(args[0])); }

// (dns/resolve host [family]) => handle of a list of address strings.
// family: 4 or :ipv4, 6 or :ipv6 (default: both).
Value b_dns_resolve(VM& vm, Value* args, int argc) {
  VALK_CHECK(is_string(args[0]), "dns/resolve", 0, "a host name (string)");
  int family = 0;
  if (argc > 1 && args[1] != kNil) {
    Value f = args[1];
    if (f == make_fix(4) || f == intern(":ipv4")) family = 4;
    else if (f == make_fix(6) || f == intern(":ipv6")) family = 6;
    else return bad_arg("dns/resolve", 1, "4, 6, :ipv4 or :ipv6", f);
  }
  return aio::handle_value(io::dns_resolve(vm, std::string(as_string(args[0])->view()), family));
}

}  // namespace

void open_net(VM&) {
  define("tcp/connect", guarded<b_tcp_connect>, 2, 3);
  define("tcp/listen", guarded<b_tcp_listen>, 2, 3);
  define("tcp/port", b_tcp_port, 1, 1);
  define("tcp/close", guarded<b_tcp_close>, 1, 1);
  define("tcp/server?", b_is_server, 1, 1);
  define("unix/connect", guarded<b_unix_connect>, 1, 2);
  define("unix/listen", guarded<b_unix_listen>, 2, 3);
  define("unix/close", guarded<b_tcp_close>, 1, 1);
  define("dns/resolve", guarded<b_dns_resolve>, 1, 2);
}

}  // namespace valk
