/*
 * corral-udp: the DNS server's UDP socket, batched (src/discovery/udp-native.ts loads it). Node's
 * dgram costs one recvmsg, one JS callback with a Buffer and an rinfo object and one send (argument
 * checks, a SendWrap, a sendmsg) per packet, ≈ 18 µs a query of which answering is 1.5 µs
 * (bench/RESULTS.md, bench/dns). Here one recvmmsg takes up to BATCH datagrams, JS is called once
 * for all of them and one sendmmsg sends every reply to the addresses kept in C:
 *
 *   const s = new UdpSocket(host, port, onBatch)   IPv4 or IPv6 literal; port 0 picks one (s.port)
 *   onBatch(count) → array: reply i (a Buffer) or nothing, for datagram i: bytes
 *       s.data[i * SLOT, i * SLOT + s.lengths[i]); s.lengths[i] is -1 for one dropped (too large)
 *   s.peer(i)               during onBatch only: datagram i's source (an opaque Buffer, a sockaddr)
 *   s.sendTo(reply, peer)   a later reply (forwarded names); false when it could not be sent
 *   s.close([onClosed])     stops reading; the fd is closed (then onClosed runs) on the next loop turn
 *   s.stats()               { received, answered, dropped }
 *
 * Datagrams over SLOT bytes (MSG_TRUNC) are dropped, never answered from partial bytes; a reply the
 * kernel will not take now (EAGAIN: send buffer full) is dropped and counted, as UDP clients retry.
 * An exception thrown by onBatch is cleared (its batch counts as dropped): no client can crash the
 * process through it. The JS object stays alive while the socket is open; the memory goes with it.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define BATCH 64            /* datagrams per recvmmsg and per JS call */
#define SLOT 4096           /* bytes per datagram: any query up to 4096 bytes fits */
#define BATCHES_PER_POLL 16 /* then back to the event loop, so timers and other sockets get a turn */

enum phase { OPEN, CLOSING, CLOSED };

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  sa_family_t family;
  enum phase phase;
  int batch;      /* datagrams of the batch JS is looking at (peer() is valid below it), else 0 */
  int teardown;   /* the environment is going away: no more calls into JS */
  int orphaned;   /* the JS object was finalized before the close finished: on_closed frees */
  napi_ref self;  /* the JS object: a strong reference while open, weak after */
  napi_ref on_batch, on_closed, data_ref, lengths_ref;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup; /* until on_closed: tells Node a teardown close is done */
  unsigned char *data; /* BATCH * SLOT bytes, the JS Buffer `data` */
  int32_t *lengths;    /* BATCH lengths, the JS Int32Array `lengths` */
  uint64_t received, answered, dropped;
  struct sockaddr_storage peers[BATCH];
  struct iovec in_iov[BATCH], out_iov[BATCH];
  struct mmsghdr in[BATCH], out[BATCH];
} udp_socket;

/* A JS Error with `code` set to the errno's name (EADDRINUSE...), thrown. */
static napi_value throw_errno(napi_env env, int err, const char *what) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, uv_strerror(-err));
  napi_value code, msg, error;
  if (napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &code) == napi_ok &&
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) == napi_ok &&
      napi_create_error(env, code, msg, &error) == napi_ok)
    napi_throw(env, error);
  return NULL;
}

/* Anything JS left pending (an exception from onBatch or onClosed) is cleared: it must not escape. */
static void clear_exception(napi_env env) {
  bool pending = false;
  napi_value ignored;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
}

static void on_closed(uv_handle_t *handle);

/* Stops polling and closes the handle; the fd is closed in on_closed, once libuv lets go of it. */
static void begin_close(udp_socket *s) {
  if (s->phase != OPEN) return;
  s->phase = CLOSING;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

/* The environment is going away (process or worker exit) with the socket open: Node waits for
 * on_closed before it unloads the addon, whose code the close callback is. */
static void cleanup_hook(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  udp_socket *s = arg;
  s->teardown = 1;
  begin_close(s);
}

/* After close(): runs onClosed, then lets the object (and with it this memory) be collected. */
static void notify_closed(udp_socket *s) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, self;
  if (s->on_closed && napi_get_reference_value(env, s->on_closed, &fn) == napi_ok && napi_get_reference_value(env, s->self, &self) == napi_ok) {
    if (napi_make_callback(env, s->async, self, fn, 0, NULL, NULL) != napi_ok) clear_exception(env);
  }
  napi_close_handle_scope(env, scope);
  napi_async_destroy(env, s->async);
  s->async = NULL;
  /* The callbacks may hold the object (closures over it): strong references to them would pin it. */
  napi_delete_reference(env, s->on_batch);
  s->on_batch = NULL;
  if (s->on_closed) napi_delete_reference(env, s->on_closed);
  s->on_closed = NULL;
  uint32_t count;
  napi_reference_unref(env, s->self, &count);
}

static void on_closed(uv_handle_t *handle) {
  udp_socket *s = handle->data;
  napi_async_cleanup_hook_handle hook = s->cleanup;
  int orphaned = s->orphaned;
  s->cleanup = NULL;
  close(s->fd);
  s->fd = -1;
  s->phase = CLOSED;
  if (!s->teardown && !orphaned) notify_closed(s);
  if (orphaned) free(s);
  /* Removing the hook: at teardown, says the close is done; otherwise it will not run. */
  if (hook) napi_remove_async_cleanup_hook(hook);
}

/* Runs when the JS object is collected, or when the environment goes away. */
static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  udp_socket *s = data;
  napi_ref refs[] = {s->self, s->on_batch, s->on_closed, s->data_ref, s->lengths_ref};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
    if (refs[i]) napi_delete_reference(env, refs[i]);
  if (s->phase == CLOSED) {
    free(s);
    return;
  }
  /* Still open or closing: only at teardown (the object is pinned while open). on_closed frees. */
  s->teardown = 1;
  s->orphaned = 1;
  begin_close(s);
}

/* Sends `n` prepared replies; what the kernel refuses is dropped (one by one, except EAGAIN: all). */
static void send_replies(udp_socket *s, struct mmsghdr *msgs, int n) {
  int i = 0;
  while (i < n) {
    int sent = sendmmsg(s->fd, msgs + i, (unsigned)(n - i), MSG_DONTWAIT);
    if (sent > 0) {
      s->answered += (uint64_t)sent;
      i += sent;
    } else if (sent < 0 && errno == EINTR) {
      continue;
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      s->dropped += (uint64_t)(n - i);
      return;
    } else {
      s->dropped++; /* this one cannot go (EMSGSIZE, EINVAL for port 0, unreachable): skip it */
      i++;
    }
  }
}

/* One batch to JS and its replies out. Returns false when the socket was closed meanwhile. */
static bool deliver(udp_socket *s, int n) {
  napi_env env = s->env;
  napi_value fn, self, argv[1], result;
  if (napi_get_reference_value(env, s->on_batch, &fn) != napi_ok || napi_get_reference_value(env, s->self, &self) != napi_ok ||
      napi_create_int32(env, n, &argv[0]) != napi_ok)
    return false;
  s->batch = n;
  /* Like any libuv callback: microtasks and nextTicks run when it returns. */
  napi_status status = napi_make_callback(env, s->async, self, fn, 1, argv, &result);
  s->batch = 0;
  if (status != napi_ok) {
    clear_exception(env);
    s->dropped += (uint64_t)n;
    return s->phase == OPEN;
  }
  if (s->phase != OPEN) return false;
  bool is_array = false;
  uint32_t length = 0;
  if (napi_is_array(env, result, &is_array) != napi_ok || !is_array || napi_get_array_length(env, result, &length) != napi_ok) return true;
  int k = 0;
  for (int i = 0; i < n && (uint32_t)i < length; i++) {
    napi_value reply;
    void *bytes;
    size_t size;
    if (s->lengths[i] < 0 || napi_get_element(env, result, (uint32_t)i, &reply) != napi_ok) continue;
    /* Not a Buffer (undefined: no reply now) fails here without an exception. */
    if (napi_get_buffer_info(env, reply, &bytes, &size) != napi_ok || size == 0) continue;
    s->out_iov[k] = (struct iovec){.iov_base = bytes, .iov_len = size};
    s->out[k].msg_hdr = (struct msghdr){.msg_name = &s->peers[i], .msg_namelen = s->in[i].msg_hdr.msg_namelen, .msg_iov = &s->out_iov[k], .msg_iovlen = 1};
    k++;
  }
  /* The reply Buffers are held by `result` in this handle scope until they are sent. */
  send_replies(s, s->out, k);
  return true;
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  udp_socket *s = handle->data;
  if (status < 0 || s->phase != OPEN || s->teardown) return;
  for (int b = 0; b < BATCHES_PER_POLL; b++) {
    for (int i = 0; i < BATCH; i++) {
      s->in[i].msg_hdr.msg_namelen = sizeof s->peers[i];
      s->in[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(s->fd, s->in, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return; /* EAGAIN: drained (the poll is level-triggered: any error shows again) */
    s->received += (uint64_t)n;
    for (int i = 0; i < n; i++) {
      bool whole = !(s->in[i].msg_hdr.msg_flags & MSG_TRUNC);
      s->lengths[i] = whole ? (int32_t)s->in[i].msg_len : -1;
      if (!whole) s->dropped++;
    }
    napi_handle_scope scope;
    if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
    bool open = deliver(s, n);
    napi_close_handle_scope(s->env, scope);
    if (!open || n < BATCH) return;
  }
}

static udp_socket *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *s = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, &s) != napi_ok) {
    napi_throw_type_error(env, NULL, "not a UdpSocket");
    return NULL;
  }
  return s;
}

static napi_value socket_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  udp_socket *s = unwrap(env, info, &argc, argv);
  if (!s || s->phase != OPEN) return NULL; /* closing twice is fine */
  napi_valuetype type = napi_undefined;
  if (argc >= 1 && napi_typeof(env, argv[0], &type) == napi_ok && type == napi_function) napi_create_reference(env, argv[0], 1, &s->on_closed);
  begin_close(s);
  return NULL;
}

static napi_value socket_peer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  udp_socket *s = unwrap(env, info, &argc, argv);
  int32_t i = -1;
  if (!s) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &i) != napi_ok || i < 0 || i >= s->batch) {
    napi_throw_range_error(env, NULL, "peer(index): only for a datagram of the batch being handled");
    return NULL;
  }
  if (napi_create_buffer_copy(env, s->in[i].msg_hdr.msg_namelen, &s->peers[i], NULL, &out) != napi_ok) return NULL;
  return out;
}

static napi_value socket_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  udp_socket *s = unwrap(env, info, &argc, argv);
  void *bytes, *peer;
  size_t size, peer_size;
  if (!s) return NULL;
  if (argc < 2 || napi_get_buffer_info(env, argv[0], &bytes, &size) != napi_ok || napi_get_buffer_info(env, argv[1], &peer, &peer_size) != napi_ok) {
    napi_throw_type_error(env, NULL, "sendTo(packet: Buffer, peer: Buffer from peer())");
    return NULL;
  }
  /* Only what peer() made: a sockaddr of this socket's family. Copied: the Buffer need not be aligned. */
  struct sockaddr_storage to;
  size_t expected = s->family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (peer_size != expected) {
    napi_throw_type_error(env, NULL, "sendTo: peer is not an address from peer()");
    return NULL;
  }
  memcpy(&to, peer, peer_size);
  if (to.ss_family != s->family) {
    napi_throw_type_error(env, NULL, "sendTo: peer is not an address from peer()");
    return NULL;
  }
  bool sent = false;
  if (s->phase == OPEN && size > 0) {
    ssize_t r;
    do r = sendto(s->fd, bytes, size, MSG_DONTWAIT, (struct sockaddr *)&to, (socklen_t)peer_size);
    while (r < 0 && errno == EINTR);
    sent = r >= 0;
    if (sent) s->answered++;
    else s->dropped++;
  }
  napi_get_boolean(env, sent, &out);
  return out;
}

static napi_value socket_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  udp_socket *s = unwrap(env, info, &argc, NULL);
  napi_value out, v;
  if (!s || napi_create_object(env, &out) != napi_ok) return NULL;
  const char *names[] = {"received", "answered", "dropped"};
  uint64_t values[] = {s->received, s->answered, s->dropped};
  for (int i = 0; i < 3; i++)
    if (napi_create_double(env, (double)values[i], &v) != napi_ok || napi_set_named_property(env, out, names[i], v) != napi_ok) return NULL;
  return out;
}

/* new UdpSocket(host, port, onBatch): binds and starts reading; bind errors are thrown with their code. */
static napi_value socket_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  char host[INET6_ADDRSTRLEN + 16];
  size_t host_len = 0;
  uint32_t port = 0;
  napi_valuetype fn_type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok || napi_get_value_uint32(env, argv[1], &port) != napi_ok ||
      port > 65535 || napi_typeof(env, argv[2], &fn_type) != napi_ok || fn_type != napi_function) {
    napi_throw_type_error(env, NULL, "new UdpSocket(host: IP literal, port: 0-65535, onBatch: function)");
    return NULL;
  }
  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof addr);
  int family = strchr(host, ':') ? AF_INET6 : AF_INET;
  int bad = host_len + 1 >= sizeof host ||
            (family == AF_INET6 ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&addr) : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&addr));
  if (bad) return throw_errno(env, EINVAL, "not an IP address");
  socklen_t addr_len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);

  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (bind(fd, (struct sockaddr *)&addr, addr_len) != 0 || getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }
  port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port : ((struct sockaddr_in *)&addr)->sin_port);

  udp_socket *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return throw_errno(env, ENOMEM, "corral-udp");
  }
  s->env = env;
  s->fd = fd;
  s->family = (sa_family_t)family;
  s->phase = CLOSED; /* until the poll handle exists: a failure below frees plainly */
  napi_value data, lengths_ab, lengths, port_value, name;
  void *lengths_bytes;
  uv_loop_t *loop;
  if (napi_create_buffer(env, (size_t)BATCH * SLOT, (void **)&s->data, &data) != napi_ok ||
      napi_create_arraybuffer(env, BATCH * sizeof(int32_t), &lengths_bytes, &lengths_ab) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, BATCH, lengths_ab, 0, &lengths) != napi_ok || napi_create_uint32(env, port, &port_value) != napi_ok ||
      napi_set_named_property(env, self, "data", data) != napi_ok || napi_set_named_property(env, self, "lengths", lengths) != napi_ok ||
      napi_set_named_property(env, self, "port", port_value) != napi_ok || napi_create_reference(env, data, 1, &s->data_ref) != napi_ok ||
      napi_create_reference(env, lengths, 1, &s->lengths_ref) != napi_ok || napi_create_reference(env, argv[2], 1, &s->on_batch) != napi_ok ||
      napi_create_string_utf8(env, "corral-udp", NAPI_AUTO_LENGTH, &name) != napi_ok || napi_async_init(env, self, name, &s->async) != napi_ok ||
      napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &s->poll, fd) != 0) {
    napi_ref refs[] = {s->data_ref, s->lengths_ref, s->on_batch};
    for (size_t i = 0; i < 3; i++)
      if (refs[i]) napi_delete_reference(env, refs[i]);
    if (s->async) napi_async_destroy(env, s->async);
    close(fd);
    free(s);
    return throw_errno(env, EINVAL, "corral-udp: setting up the socket failed");
  }
  s->lengths = lengths_bytes;
  s->poll.data = s;
  s->phase = OPEN;
  for (int i = 0; i < BATCH; i++) {
    s->in_iov[i] = (struct iovec){.iov_base = s->data + (size_t)i * SLOT, .iov_len = SLOT};
    s->in[i].msg_hdr = (struct msghdr){.msg_name = &s->peers[i], .msg_namelen = sizeof s->peers[i], .msg_iov = &s->in_iov[i], .msg_iovlen = 1};
  }
  /* From here on the object owns the memory (finalize); a failure closes through libuv. */
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    s->orphaned = 1;
    s->teardown = 1;
    begin_close(s);
    return throw_errno(env, EINVAL, "corral-udp: wrap");
  }
  if (napi_create_reference(env, self, 1, &s->self) != napi_ok || napi_add_async_cleanup_hook(env, cleanup_hook, s, &s->cleanup) != napi_ok ||
      uv_poll_start(&s->poll, UV_READABLE, on_readable) != 0) {
    begin_close(s);
    return throw_errno(env, EINVAL, "corral-udp: poll");
  }
  return self;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"close", NULL, socket_close, NULL, NULL, NULL, napi_default, NULL},
      {"peer", NULL, socket_peer, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, socket_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, socket_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, batch, slot;
  if (napi_define_class(env, "UdpSocket", NAPI_AUTO_LENGTH, socket_new, NULL, sizeof methods / sizeof methods[0], methods, &cls) != napi_ok ||
      napi_set_named_property(env, exports, "UdpSocket", cls) != napi_ok || napi_create_int32(env, BATCH, &batch) != napi_ok ||
      napi_set_named_property(env, exports, "BATCH", batch) != napi_ok || napi_create_int32(env, SLOT, &slot) != napi_ok ||
      napi_set_named_property(env, exports, "SLOT", slot) != napi_ok)
    return NULL;
  return exports;
}

NAPI_MODULE(corral_udp, init)
