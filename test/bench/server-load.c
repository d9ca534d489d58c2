/* Load generator of test/bench/server.bench.ts, in C like redis-benchmark, so that the client does not
   limit what is measured. N connections, one request in flight each (no pipelining), bounded time.
   argv: port conns millis request-format reply keys   (request-format has one %lu: the key number)
   Prints one JSON line: ops, seconds, opsPerSec, p50Ms, p99Ms, errors. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 1024
#define BUCKETS 1000000 /* 1 us each, up to 1 s */

typedef struct { int fd; char buf[512]; int len; double sent; unsigned long i; } conn_t;
static conn_t conns[MAXC];
static unsigned int hist[BUCKETS + 1];

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }

static const char *req_fmt; static const char *reply; static int reply_len; static int keys;

static int send_req(conn_t *c) {
  char out[512];
  c->i++;
  int n = snprintf(out, sizeof out, req_fmt, (unsigned long)(c->i % keys));
  c->sent = now_ms();
  int off = 0;
  while (off < n) { int w = write(c->fd, out + off, n - off); if (w < 0) { if (errno == EAGAIN) continue; return -1; } off += w; }
  return 0;
}

static double pct(unsigned long total, double p) {
  unsigned long want = (unsigned long)(p * total), seen = 0;
  if (want == 0) want = 1;
  for (int b = 0; b <= BUCKETS; b++) { seen += hist[b]; if (seen >= want) return b / 1000.0; }
  return BUCKETS / 1000.0;
}

int main(int argc, char **argv) {
  if (argc < 7) { fprintf(stderr, "usage: textload port conns millis request-format reply keys\n"); return 2; }
  int port = atoi(argv[1]), nc = atoi(argv[2]); double millis = atof(argv[3]);
  req_fmt = argv[4]; reply = argv[5]; reply_len = strlen(reply); keys = atoi(argv[6]);
  if (nc > MAXC) nc = MAXC;
  int ep = epoll_create1(0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  for (int k = 0; k < nc; k++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[k].fd = fd; conns[k].i = (unsigned long)k * 7919;
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = k };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  double t0 = now_ms(), deadline = t0 + millis;
  unsigned long ops = 0, errors = 0; int open = nc;
  for (int k = 0; k < nc; k++) send_req(&conns[k]);
  struct epoll_event evs[MAXC];
  while (open > 0) {
    int n = epoll_wait(ep, evs, MAXC, 1000);
    if (n <= 0 && now_ms() > deadline + 5000) break;
    for (int e = 0; e < n; e++) {
      conn_t *c = &conns[evs[e].data.u32];
      int r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
      if (r <= 0) { if (r < 0 && errno == EAGAIN) continue; close(c->fd); open--; errors++; continue; }
      c->len += r;
      if (c->len < reply_len && memcmp(c->buf, reply, c->len) == 0) continue;       /* partial reply */
      if (memcmp(c->buf, reply, reply_len) != 0 && c->buf[c->len - 1] != '\n') continue; /* partial error line */
      double t = now_ms();
      if (c->len == reply_len && memcmp(c->buf, reply, reply_len) == 0) {
        long us = (long)((t - c->sent) * 1000); if (us > BUCKETS) us = BUCKETS; hist[us]++; ops++;
      } else {
        if (errors == 0) { c->buf[c->len] = 0; fprintf(stderr, "textload: unexpected reply: %s\n", c->buf); }
        errors++;
      }
      c->len = 0;
      if (t < deadline && errors < 100) { if (send_req(c) < 0) { close(c->fd); open--; errors++; } }
      else { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); open--; }
    }
  }
  double secs = (now_ms() - t0) / 1000;
  printf("{\"ops\":%lu,\"seconds\":%f,\"opsPerSec\":%f,\"p50Ms\":%f,\"p99Ms\":%f,\"errors\":%lu}\n", ops, secs, ops / secs, pct(ops, 0.5), pct(ops, 0.99), errors);
  return 0;
}
