/*
 * edgesocks bench load generator: a SOCKS5 client and the destination
 * servers (sink, source, echo, stalled reader, idle holder) in one
 * single-threaded epoll loop, so nothing in the measured path is JavaScript
 * except the proxy under test. scripts/bench.ts compiles it with `cc -O2` and
 * pins it to one CPU; one run measures one thing and prints one JSON line.
 *
 *   loadgen tput  --streams N --bytes B --dir up|down   [common]
 *   loadgen conn  --concurrency C --seconds S --max N    [common]
 *   loadgen ping  --count N --warmup W --size 64         [common]
 *   loadgen hold  --tunnels N                            [common]
 *   loadgen stall --seconds S                            [common]
 *   loadgen flood --clients N --sources K --seconds S --reconnect-ms R --proxy PORT
 *   loadgen port       (prints a free loopback port for a peer server)
 *
 * common: --proxy PORT (127.0.0.1; without it, connect directly),
 *         --user NAME:PASS (RFC 1929 login, method 02; else method 00),
 *         --timeout SEC (the whole run, default 120).
 *
 * hold prints {"ready":...} once every tunnel is up and closes them all when
 * stdin ends; stall prints {"ready":...}, waits for a line on stdin, writes
 * for S seconds, prints {"written":...} and exits when stdin ends. That lets
 * the caller read the proxy's RSS at the right moments.
 *
 * flood keeps N connections open to the proxy from 127.0.1.1 ... 127.0.1.K:
 * the even ones send one greeting byte and stall, the odd ones send 64
 * bytes of garbage; each one the proxy closes is opened again R ms later
 * (default 1000: at most N / R connections a millisecond, a flood of stalls
 * rather than of connection attempts). It prints {"opened":...,
 * "closed":...} after S seconds.
 *
 * Everything is loopback only; every loop is bounded by a count, a deadline,
 * or the --timeout alarm.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)
#define MAX_EVENTS 256
#define ECHO_SIZE 32

enum { M_TPUT, M_CONN, M_PING, M_HOLD, M_STALL, M_PORT, M_FLOOD };
enum { R_CLIENT, R_TARGET, R_LISTENER, R_STDIN };
enum {
  S_CONNECTING,
  S_METHOD,
  S_AUTH,
  S_REPLY_HEAD,
  S_REPLY_REST,
  S_READY,
};

typedef struct conn {
  int fd;
  int role;
  int state;
  unsigned char hbuf[320];
  int have;
  int need;
  uint64_t todo; /* bytes still to send */
  uint64_t got;  /* bytes received */
  int go;        /* source: the client asked for data */
  uint32_t events;
  double t0;
} conn;

/* Options. */
static int mode = -1;
static int proxy_port = 0;
static char user[256], pass[256];
static int use_auth = 0;
static int streams = 1;
static uint64_t bytes_per_stream = 0;
static int dir_up = 1;
static int concurrency = 50;
static double seconds = 1;
static long max_count = 100000;
static long ping_count = 1000, ping_warmup = 100;
static int ping_size = 64;
static long tunnels = 100;
static int timeout_sec = 120;
static int flood_clients = 1000, flood_sources = 64, flood_reconnect_ms = 1000;

/* State. */
static int ep = -1;
static int listen_fd = -1;
static int target_port = 0;
static unsigned char *sendbuf, *recvbuf;
static conn listener_conn = {.role = R_LISTENER};
static conn stdin_conn = {.role = R_STDIN, .fd = 0};
static int finished = 0;
static long ready_count = 0, started = 0, inflight = 0, completed = 0;
static long errors = 0, dropped = 0;
static double t_start = 0, t_end = 0, deadline = 0;
static uint64_t sink_total = 0, client_total = 0;
static double *samples = NULL;
static long nsamples = 0, cap_samples = 0;
static struct rusage ru_start;
static conn *ping_client = NULL;
static long ping_done = 0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fatal(const char *what) {
  printf("{\"error\":\"%s: %s\"}\n", what, errno ? strerror(errno) : "failed");
  fflush(stdout);
  _exit(1);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "{\"error\":\"timed out\"}\n";
  ssize_t ignored = write(1, msg, sizeof msg - 1);
  (void)ignored;
  _exit(3);
}

static void set_events(conn *c, uint32_t events) {
  if (c->events == events) return;
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) fatal("epoll_ctl mod");
  c->events = events;
}

static void add(conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) fatal("epoll_ctl add");
  c->events = events;
}

static void drop(conn *c) {
  close(c->fd); /* also removes it from the epoll set */
  free(c);
}

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void cpu_snapshot(struct rusage *ru) { getrusage(RUSAGE_SELF, ru); }

static double tv(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted samples. */
static double pct(double p) {
  if (nsamples == 0) return 0;
  long i = (long)(p * (double)nsamples + 0.999999) - 1;
  if (i < 0) i = 0;
  if (i >= nsamples) i = nsamples - 1;
  return samples[i];
}

static void record(double v) {
  if (nsamples < cap_samples) samples[nsamples++] = v;
}

/* Prints the CPU this process used since ru_start (user, sys) as JSON
 * members, so the caller can tell whether the generator was the bottleneck. */
static void print_cpu(double wall) {
  struct rusage ru;
  cpu_snapshot(&ru);
  printf("\"cpu_user\":%.3f,\"cpu_sys\":%.3f,\"wall\":%.3f",
         tv(ru.ru_utime) - tv(ru_start.ru_utime), tv(ru.ru_stime) - tv(ru_start.ru_stime), wall);
}

/* ---------------------------------------------------------------- client */

static void client_ready(conn *c);
static void start_client(void);

static void client_fail(conn *c, const char *why) {
  if (mode == M_CONN) {
    errors++;
    inflight--;
    drop(c);
    if (errors > 1000 && errors > completed) fatal("too many failed connections");
    start_client();
    return;
  }
  if (mode == M_HOLD && c->state == S_READY) {
    dropped++;
    drop(c);
    return;
  }
  printf("{\"error\":\"%s (state %d)\"}\n", why, c->state);
  fflush(stdout);
  _exit(1);
}

static int send_small(conn *c, const void *buf, size_t len) {
  ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
  if (n != (ssize_t)len) {
    client_fail(c, "short write in the handshake");
    return -1;
  }
  return 0;
}

static void send_request(conn *c) {
  unsigned char req[10] = {5, 1, 0, 1, 127, 0, 0, 1, (unsigned char)(target_port >> 8),
                           (unsigned char)(target_port & 0xff)};
  if (send_small(c, req, sizeof req) < 0) return;
  c->state = S_REPLY_HEAD;
  c->have = 0;
  c->need = 5;
}

static void start_client(void) {
  if (mode == M_CONN && (now() >= deadline || started >= max_count)) return;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fatal("socket");
  nodelay(fd);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  sa.sin_port = htons((uint16_t)(proxy_port ? proxy_port : target_port));
  conn *c = calloc(1, sizeof *c);
  if (!c) fatal("calloc");
  c->fd = fd;
  c->role = R_CLIENT;
  c->state = S_CONNECTING;
  c->t0 = now();
  started++;
  inflight++;
  add(c, EPOLLOUT);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
    client_fail(c, "connect");
  }
}

static void client_handshake(conn *c, uint32_t ev) {
  if (c->state == S_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err || (ev & (EPOLLERR | EPOLLHUP))) {
      errno = err;
      client_fail(c, "connect failed");
      return;
    }
    if (!proxy_port) {
      c->state = S_READY;
      client_ready(c);
      return;
    }
    unsigned char greeting[3] = {5, 1, use_auth ? 2 : 0};
    if (send_small(c, greeting, 3) < 0) return;
    c->state = S_METHOD;
    c->have = 0;
    c->need = 2;
    set_events(c, EPOLLIN);
    return;
  }
  /* Read exactly what the current message needs, so no payload byte is
   * taken for handshake. */
  ssize_t n = recv(c->fd, c->hbuf + c->have, (size_t)(c->need - c->have), 0);
  if (n == 0) {
    client_fail(c, "proxy closed during the handshake");
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN) return;
    client_fail(c, "read during the handshake");
    return;
  }
  c->have += (int)n;
  if (c->have < c->need) return;
  switch (c->state) {
  case S_METHOD:
    if (c->hbuf[0] != 5 || c->hbuf[1] != (use_auth ? 2 : 0)) {
      client_fail(c, "unexpected method selection");
      return;
    }
    if (use_auth) {
      unsigned char msg[3 + 255 + 255];
      size_t ul = strlen(user), pl = strlen(pass);
      msg[0] = 1;
      msg[1] = (unsigned char)ul;
      memcpy(msg + 2, user, ul);
      msg[2 + ul] = (unsigned char)pl;
      memcpy(msg + 3 + ul, pass, pl);
      if (send_small(c, msg, 3 + ul + pl) < 0) return;
      c->state = S_AUTH;
      c->have = 0;
      c->need = 2;
    } else {
      send_request(c);
    }
    return;
  case S_AUTH:
    if (c->hbuf[0] != 1 || c->hbuf[1] != 0) {
      client_fail(c, "login refused");
      return;
    }
    send_request(c);
    return;
  case S_REPLY_HEAD: {
    if (c->hbuf[0] != 5 || c->hbuf[1] != 0) {
      client_fail(c, "CONNECT refused");
      return;
    }
    int atyp = c->hbuf[3];
    c->need = atyp == 1 ? 10 : atyp == 4 ? 22 : 7 + c->hbuf[4];
    c->state = S_REPLY_REST;
    if (c->have < c->need) return;
  }
    /* fall through */
  case S_REPLY_REST:
    c->state = S_READY;
    client_ready(c);
    return;
  }
}

static void ping_send(conn *c) {
  c->got = 0;
  c->t0 = now();
  ssize_t n = send(c->fd, sendbuf, (size_t)ping_size, MSG_NOSIGNAL);
  if (n != ping_size) fatal("ping write");
}

/* Throughput clients wait here until every stream's tunnel is up, so all
 * streams start together and the handshakes stay out of the timing. */
static conn **tput_clients = NULL;

static void client_ready(conn *c) {
  switch (mode) {
  case M_TPUT:
    tput_clients[ready_count++] = c;
    set_events(c, 0);
    if (ready_count < streams) return;
    cpu_snapshot(&ru_start);
    t_start = now();
    for (int i = 0; i < streams; i++) {
      conn *s = tput_clients[i];
      if (dir_up) {
        s->todo = bytes_per_stream;
        set_events(s, EPOLLIN | EPOLLOUT);
      } else {
        unsigned char g = 'G';
        if (send(s->fd, &g, 1, MSG_NOSIGNAL) != 1) fatal("go write");
        set_events(s, EPOLLIN);
      }
    }
    return;
  case M_CONN:
    c->got = 0;
    memset(sendbuf, 'e', ECHO_SIZE);
    if (send(c->fd, sendbuf, ECHO_SIZE, MSG_NOSIGNAL) != ECHO_SIZE) {
      client_fail(c, "echo write");
      return;
    }
    set_events(c, EPOLLIN);
    return;
  case M_PING:
    ping_client = c;
    cpu_snapshot(&ru_start);
    t_start = now();
    set_events(c, EPOLLIN);
    ping_send(c);
    return;
  case M_HOLD:
    ready_count++;
    inflight--;
    set_events(c, EPOLLIN);
    if (ready_count < tunnels) {
      if (started < tunnels) start_client();
      return;
    }
    printf("{\"ready\":%ld,\"seconds\":%.3f}\n", ready_count, now() - t_start);
    fflush(stdout);
    add(&stdin_conn, EPOLLIN);
    return;
  case M_STALL:
    ping_client = c;
    set_events(c, 0);
    printf("{\"ready\":1}\n");
    fflush(stdout);
    add(&stdin_conn, EPOLLIN);
    return;
  }
}

static void tput_stream_done(conn *c) {
  client_total += c->got;
  drop(c);
  if (++completed == streams) {
    t_end = now();
    finished = 1;
  }
}

static void client_data(conn *c, uint32_t ev) {
  if (mode == M_TPUT && dir_up) {
    if ((ev & EPOLLOUT) && c->todo > 0) {
      while (c->todo > 0) {
        size_t len = c->todo < BUF_SIZE ? (size_t)c->todo : BUF_SIZE;
        ssize_t n = send(c->fd, sendbuf, len, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN) break;
          fatal("upload write");
        }
        c->todo -= (uint64_t)n;
      }
      if (c->todo == 0) {
        shutdown(c->fd, SHUT_WR);
        set_events(c, EPOLLIN);
      }
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      ssize_t n = recv(c->fd, recvbuf, BUF_SIZE, 0);
      if (n == 0 && c->todo == 0) tput_stream_done(c);
      else if (n == 0 || (n < 0 && errno != EAGAIN)) fatal("upload: the tunnel closed early");
    }
    return;
  }
  if (mode == M_TPUT) { /* download */
    for (int i = 0; i < 64; i++) {
      ssize_t n = recv(c->fd, recvbuf, BUF_SIZE, 0);
      if (n > 0) {
        c->got += (uint64_t)n;
        continue;
      }
      if (n == 0) {
        if (c->got != bytes_per_stream) {
          errno = 0;
          fatal("download: short stream");
        }
        tput_stream_done(c);
        return;
      }
      if (errno == EAGAIN) return;
      fatal("download read");
    }
    return;
  }
  ssize_t n = recv(c->fd, recvbuf, BUF_SIZE, 0);
  if (n < 0 && errno == EAGAIN) return;
  if (n == 0 && mode == M_CONN && c->got == ECHO_SIZE) {
    /* The echo is back and the destination's close came through: done. */
    record((now() - c->t0) * 1e3);
    completed++;
    inflight--;
    t_end = now();
    drop(c);
    start_client();
    if (inflight == 0) finished = 1;
    return;
  }
  if (n <= 0) {
    client_fail(c, n == 0 ? "the tunnel closed" : "tunnel read");
    return;
  }
  c->got += (uint64_t)n;
  switch (mode) {
  case M_CONN:
    if (c->got > ECHO_SIZE) client_fail(c, "too many bytes echoed");
    return;
  case M_PING:
    if (c->got < (uint64_t)ping_size) return;
    if (ping_done >= ping_warmup) record((now() - c->t0) * 1e6);
    if (++ping_done >= ping_warmup + ping_count) {
      t_end = now();
      finished = 1;
      return;
    }
    ping_send(c);
    return;
  default:
    return;
  }
}

/* ---------------------------------------------------------------- targets */

static void accept_all(void) {
  for (int i = 0; i < 1024; i++) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == ECONNABORTED) return;
      fatal("accept");
    }
    nodelay(fd);
    conn *t = calloc(1, sizeof *t);
    if (!t) fatal("calloc");
    t->fd = fd;
    t->role = R_TARGET;
    /* The stalled reader's destination never reads: it stays out of the set,
     * open until the process exits. */
    if (mode != M_STALL) add(t, EPOLLIN);
  }
}

static void target_event(conn *t, uint32_t ev) {
  if (mode == M_TPUT && !dir_up) { /* source */
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      ssize_t n = recv(t->fd, recvbuf, BUF_SIZE, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        drop(t);
        return;
      }
      if (n > 0 && !t->go) {
        t->go = 1;
        t->todo = bytes_per_stream;
        set_events(t, EPOLLIN | EPOLLOUT);
      }
    }
    if ((ev & EPOLLOUT) && t->todo > 0) {
      while (t->todo > 0) {
        size_t len = t->todo < BUF_SIZE ? (size_t)t->todo : BUF_SIZE;
        ssize_t n = send(t->fd, sendbuf, len, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN) break;
          fatal("source write");
        }
        t->todo -= (uint64_t)n;
      }
      if (t->todo == 0) {
        shutdown(t->fd, SHUT_WR);
        set_events(t, EPOLLIN);
      }
    }
    return;
  }
  if (mode == M_TPUT) { /* sink */
    for (int i = 0; i < 64; i++) {
      ssize_t n = recv(t->fd, recvbuf, BUF_SIZE, 0);
      if (n > 0) {
        sink_total += (uint64_t)n;
        continue;
      }
      if (n < 0 && errno == EAGAIN) return;
      drop(t); /* EOF: closing tells the client everything arrived */
      return;
    }
    return;
  }
  ssize_t n = recv(t->fd, recvbuf, BUF_SIZE, 0);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    drop(t);
    return;
  }
  if (mode == M_CONN || mode == M_PING) { /* echo */
    if (send(t->fd, recvbuf, (size_t)n, MSG_NOSIGNAL) != n) fatal("echo write");
    t->got += (uint64_t)n;
    /* The destination closes first, so the TIME_WAIT sockets hold the
     * listening ports, not ephemeral ones: tens of thousands of connections
     * then never run the client or the proxy out of ephemeral ports. */
    if (mode == M_CONN && t->got >= ECHO_SIZE) drop(t);
  }
}

/* ---------------------------------------------------------------- main */

static void stall_run(void) {
  double start = now(), end = start + seconds;
  /* What the tunnel still takes in the last second shows whether the proxy
   * pushes back: a proxy that buffers without bound keeps taking bytes. */
  double tail = seconds > 2 ? 1 : seconds / 2, tail_start = end - tail;
  uint64_t written = 0, written_tail = 0;
  cpu_snapshot(&ru_start);
  for (long spins = 0; spins < 100000000L; spins++) {
    double t = now(), left = end - t;
    if (left <= 0) break;
    ssize_t n = send(ping_client->fd, sendbuf, BUF_SIZE, MSG_NOSIGNAL);
    if (n > 0) {
      written += (uint64_t)n;
      if (t >= tail_start) written_tail += (uint64_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN) fatal("stalled write");
    struct pollfd p = {.fd = ping_client->fd, .events = POLLOUT};
    poll(&p, 1, (int)(left * 1000) + 1);
  }
  printf("{\"written\":%llu,\"written_tail\":%llu,\"tail_seconds\":%.2f,", (unsigned long long)written,
         (unsigned long long)written_tail, tail);
  print_cpu(now() - start);
  printf("}\n");
  fflush(stdout);
}

static void usage(void) {
  fprintf(stderr, "usage: loadgen tput|conn|ping|hold|stall|flood [options] (see the source)\n");
  exit(2);
}

static void parse(int argc, char **argv) {
  if (argc < 2) usage();
  const char *m = argv[1];
  mode = !strcmp(m, "tput")    ? M_TPUT
         : !strcmp(m, "conn")  ? M_CONN
         : !strcmp(m, "ping")  ? M_PING
         : !strcmp(m, "hold")  ? M_HOLD
         : !strcmp(m, "stall") ? M_STALL
         : !strcmp(m, "port")  ? M_PORT
         : !strcmp(m, "flood") ? M_FLOOD
                               : -1;
  if (mode < 0) usage();
  for (int i = 2; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--proxy")) proxy_port = atoi(v);
    else if (!strcmp(k, "--user")) {
      const char *colon = strchr(v, ':');
      if (!colon || colon - v > 255 || strlen(colon + 1) > 255) usage();
      memcpy(user, v, (size_t)(colon - v));
      strcpy(pass, colon + 1);
      use_auth = 1;
    } else if (!strcmp(k, "--streams")) streams = atoi(v);
    else if (!strcmp(k, "--bytes")) bytes_per_stream = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--dir")) dir_up = !strcmp(v, "up");
    else if (!strcmp(k, "--concurrency")) concurrency = atoi(v);
    else if (!strcmp(k, "--seconds")) seconds = atof(v);
    else if (!strcmp(k, "--max")) max_count = atol(v);
    else if (!strcmp(k, "--count")) ping_count = atol(v);
    else if (!strcmp(k, "--warmup")) ping_warmup = atol(v);
    else if (!strcmp(k, "--size")) ping_size = atoi(v);
    else if (!strcmp(k, "--tunnels")) tunnels = atol(v);
    else if (!strcmp(k, "--timeout")) timeout_sec = atoi(v);
    else if (!strcmp(k, "--clients")) flood_clients = atoi(v);
    else if (!strcmp(k, "--sources")) flood_sources = atoi(v);
    else if (!strcmp(k, "--reconnect-ms")) flood_reconnect_ms = atoi(v);
    else usage();
  }
  if (streams < 1 || streams > 1024 || concurrency < 1 || concurrency > 4096 || ping_size < 1 ||
      ping_size > 4096 || tunnels < 1 || tunnels > 100000 || max_count < 1 || max_count > 10000000 ||
      flood_clients < 1 || flood_clients > 60000 || flood_sources < 1 || flood_sources > 254)
    usage();
}

/* flood: one slot per connection; the epoll data is the slot's index. */
static int *flood_fds;
static char *flood_sent;
static double *flood_reopen; /* when a closed slot opens again; 0: open */
static long flood_opened = 0, flood_closed = 0;

static void flood_open(int fep, int i) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fatal("socket");
  struct sockaddr_in from = {.sin_family = AF_INET};
  from.sin_addr.s_addr = htonl((127u << 24) | (1u << 8) | (unsigned)(1 + i % flood_sources));
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)proxy_port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* The port is picked at connect, per destination: rapid reconnects from
   * one source address do not run out of ports. */
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0) fatal("bind");
  if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) fatal("connect");
  struct epoll_event e = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)i};
  if (epoll_ctl(fep, EPOLL_CTL_ADD, fd, &e) < 0) fatal("epoll_ctl");
  flood_fds[i] = fd;
  flood_sent[i] = 0;
  flood_opened++;
}

static void flood_run(void) {
  int fep = epoll_create1(EPOLL_CLOEXEC);
  flood_fds = calloc((size_t)flood_clients, sizeof *flood_fds);
  flood_sent = calloc((size_t)flood_clients, 1);
  flood_reopen = calloc((size_t)flood_clients, sizeof *flood_reopen);
  if (fep < 0 || !flood_fds || !flood_sent || !flood_reopen) fatal("flood setup");
  unsigned char garbage[64];
  for (size_t k = 0; k < sizeof garbage; k++) garbage[k] = (unsigned char)(k * 37 + 4);
  const unsigned char stall = 0x05;
  for (int i = 0; i < flood_clients; i++) flood_open(fep, i);
  double end = now() + seconds;
  struct epoll_event evs[MAX_EVENTS];
  while (now() < end) {
    int n = epoll_wait(fep, evs, MAX_EVENTS, 10);
    double t = now();
    for (int i = 0; i < flood_clients; i++) {
      if (flood_reopen[i] > 0 && flood_reopen[i] <= t) {
        flood_reopen[i] = 0;
        flood_open(fep, i);
      }
    }
    if (n < 0 && errno != EINTR) fatal("epoll_wait");
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u64, fd = flood_fds[i];
      uint32_t ev = evs[k].events;
      int gone = (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0;
      if (!gone && (ev & EPOLLIN)) {
        ssize_t r = read(fd, recvbuf, BUF_SIZE);
        gone = r == 0 || (r < 0 && errno != EAGAIN);
      }
      if (!gone && (ev & EPOLLOUT) && !flood_sent[i]) {
        ssize_t w = i % 2 ? write(fd, garbage, sizeof garbage) : write(fd, &stall, 1);
        if (w < 0 && errno != EAGAIN) gone = 1;
        flood_sent[i] = 1;
        struct epoll_event e = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)i};
        epoll_ctl(fep, EPOLL_CTL_MOD, fd, &e);
      }
      if (gone && flood_reopen[i] == 0) {
        close(fd);
        flood_closed++;
        flood_reopen[i] = now() + flood_reconnect_ms / 1000.0;
      }
    }
  }
  printf("{\"opened\":%ld,\"closed\":%ld}\n", flood_opened, flood_closed);
  fflush(stdout);
}

int main(int argc, char **argv) {
  parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  alarm((unsigned)timeout_sec);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sendbuf = malloc(BUF_SIZE);
  recvbuf = malloc(BUF_SIZE);
  if (!sendbuf || !recvbuf) fatal("malloc");
  memset(sendbuf, 0x5a, BUF_SIZE);

  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t salen = sizeof sa;
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
      listen(listen_fd, 4096) < 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &salen) < 0)
    fatal("listen");
  target_port = ntohs(sa.sin_port);
  if (mode == M_PORT) {
    /* bind() without SO_REUSEADDR skips ports that TIME_WAIT sockets still
     * hold, so a server that does not set SO_REUSEADDR can bind this one. */
    printf("%d\n", target_port);
    return 0;
  }
  if (mode == M_FLOOD) {
    flood_run();
    return 0;
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) fatal("epoll_create1");
  listener_conn.fd = listen_fd;
  add(&listener_conn, EPOLLIN);

  switch (mode) {
  case M_TPUT:
    tput_clients = calloc((size_t)streams, sizeof *tput_clients);
    for (int i = 0; i < streams; i++) start_client();
    break;
  case M_CONN:
    cap_samples = max_count;
    samples = malloc(sizeof(double) * (size_t)cap_samples);
    if (!samples) fatal("malloc");
    cpu_snapshot(&ru_start);
    t_start = now();
    deadline = t_start + seconds;
    for (int i = 0; i < concurrency; i++) start_client();
    break;
  case M_PING:
    cap_samples = ping_count;
    samples = malloc(sizeof(double) * (size_t)cap_samples);
    if (!samples) fatal("malloc");
    start_client();
    break;
  case M_HOLD:
    t_start = now();
    for (int i = 0; i < concurrency && i < tunnels; i++) start_client();
    break;
  case M_STALL:
    start_client();
    break;
  }

  struct epoll_event evs[MAX_EVENTS];
  int stdin_lines = 0;
  while (!finished) {
    int wait_ms = -1;
    if (mode == M_CONN) {
      double left = deadline - now();
      wait_ms = left > 0 ? (int)(left * 1000) + 1 : 100;
      if (inflight == 0 && left <= 0) break;
    }
    int n = epoll_wait(ep, evs, MAX_EVENTS, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      fatal("epoll_wait");
    }
    for (int i = 0; i < n && !finished; i++) {
      conn *c = evs[i].data.ptr;
      uint32_t ev = evs[i].events;
      if (c->role == R_LISTENER) accept_all();
      else if (c->role == R_STDIN) {
        char line[256];
        ssize_t r = read(0, line, sizeof line);
        if (mode == M_STALL && r > 0 && stdin_lines++ == 0) {
          stall_run();
          continue; /* then wait for stdin to end */
        }
        if (r <= 0 || mode == M_HOLD) finished = 1;
      } else if (c->role == R_TARGET) target_event(c, ev);
      else if (c->state != S_READY) client_handshake(c, ev);
      else client_data(c, ev);
    }
  }

  switch (mode) {
  case M_TPUT: {
    double secs = t_end - t_start;
    uint64_t total = bytes_per_stream * (uint64_t)streams;
    uint64_t seen = dir_up ? sink_total : client_total;
    if (seen != total) {
      errno = 0;
      fatal("byte count mismatch");
    }
    printf("{\"bytes\":%llu,\"seconds\":%.4f,\"mbps\":%.1f,", (unsigned long long)total, secs,
           (double)total / secs / 1e6);
    print_cpu(secs);
    printf("}\n");
    break;
  }
  case M_CONN: {
    double secs = t_end - t_start;
    qsort(samples, (size_t)nsamples, sizeof *samples, cmp_double);
    printf("{\"completed\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"rate\":%.1f,\"p50_ms\":%.3f,"
           "\"p99_ms\":%.3f,",
           completed, errors, secs, (double)completed / secs, pct(0.5), pct(0.99));
    print_cpu(secs);
    printf("}\n");
    break;
  }
  case M_PING: {
    double secs = t_end - t_start;
    double sum = 0;
    for (long i = 0; i < nsamples; i++) sum += samples[i];
    qsort(samples, (size_t)nsamples, sizeof *samples, cmp_double);
    printf("{\"count\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,", nsamples, pct(0.5),
           pct(0.99), nsamples ? sum / (double)nsamples : 0);
    print_cpu(secs);
    printf("}\n");
    break;
  }
  case M_HOLD:
    printf("{\"closed\":%ld,\"dropped\":%ld}\n", ready_count, dropped);
    break;
  case M_STALL:
    break;
  }
  fflush(stdout);
  return 0;
}
