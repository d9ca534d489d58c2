/* HTTP/1.1 load generator of test/bench/http.bench.ts, the counterpart of server-load.c: N
   keep-alive connections, one request in flight each (no pipelining), bounded time. A response
   is complete when its headers and Content-Length bytes of body have arrived; it counts when
   its status is the expected one.
   argv: port conns millis method path-format body expected-status keys
         (path-format has one %lu: the key number; body "-" for none)
   Prints one JSON line: ops, seconds, opsPerSec, p50Ms, p99Ms, errors. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 1024
#define BUF 8192
#define BUCKETS 1000000 /* 1 us each, up to 1 s */

typedef struct { int fd; char buf[BUF]; int len; double sent; unsigned long i; } conn_t;
static conn_t conns[MAXC];
static unsigned int hist[BUCKETS + 1];
static const char *method, *path_fmt, *body; static int expected, keys, body_len;

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }

static int send_req(conn_t *c) {
  char path[256], out[1024];
  c->i++;
  snprintf(path, sizeof path, path_fmt, (unsigned long)(c->i % keys));
  int n = body_len
    ? snprintf(out, sizeof out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n%s", method, path, body_len, body)
    : snprintf(out, sizeof out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", method, path);
  c->sent = now_ms();
  int off = 0;
  while (off < n) { int w = write(c->fd, out + off, n - off); if (w < 0) { if (errno == EAGAIN) continue; return -1; } off += w; }
  return 0;
}

/* Bytes of the whole response when complete, 0 when more must arrive, -1 when it cannot be read. */
static int complete(conn_t *c, int *status) {
  c->buf[c->len] = 0;
  char *end = strstr(c->buf, "\r\n\r\n");
  if (!end) return c->len >= BUF - 1 ? -1 : 0;
  int head = (int)(end - c->buf) + 4;
  if (sscanf(c->buf, "HTTP/1.1 %d", status) != 1) return -1;
  long length = 0;
  for (char *p = c->buf; p < end; p = strstr(p, "\r\n") + 2) {
    if (strncasecmp(p, "content-length:", 15) == 0) { length = strtol(p + 15, NULL, 10); break; }
    if (!strstr(p, "\r\n")) break;
  }
  if (head + length >= BUF) return -1;
  return c->len >= head + length ? head + (int)length : 0;
}

static double pct(unsigned long total, double p) {
  unsigned long want = (unsigned long)(p * total), seen = 0;
  if (want == 0) want = 1;
  for (int b = 0; b <= BUCKETS; b++) { seen += hist[b]; if (seen >= want) return b / 1000.0; }
  return BUCKETS / 1000.0;
}

int main(int argc, char **argv) {
  if (argc < 9) { fprintf(stderr, "usage: http-load port conns millis method path-format body expected-status keys\n"); return 2; }
  int port = atoi(argv[1]), nc = atoi(argv[2]); double millis = atof(argv[3]);
  method = argv[4]; path_fmt = argv[5]; body = argv[6]; expected = atoi(argv[7]); keys = atoi(argv[8]);
  body_len = strcmp(body, "-") == 0 ? 0 : (int)strlen(body);
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
      int r = read(c->fd, c->buf + c->len, BUF - 1 - c->len);
      if (r <= 0) { if (r < 0 && errno == EAGAIN) continue; close(c->fd); open--; errors++; continue; }
      c->len += r;
      int status = 0, used = complete(c, &status);
      if (used == 0) continue;
      double t = now_ms();
      if (used > 0 && status == expected) {
        long us = (long)((t - c->sent) * 1000); if (us > BUCKETS) us = BUCKETS; hist[us]++; ops++;
      } else {
        if (errors == 0) { c->buf[c->len] = 0; fprintf(stderr, "http-load: unexpected response: %.200s\n", c->buf); }
        errors++;
      }
      c->len = 0;
      if (used < 0) { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); open--; continue; }
      if (t < deadline && errors < 100) { if (send_req(c) < 0) { close(c->fd); open--; errors++; } }
      else { epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); open--; }
    }
  }
  double secs = (now_ms() - t0) / 1000;
  printf("{\"ops\":%lu,\"seconds\":%f,\"opsPerSec\":%f,\"p50Ms\":%f,\"p99Ms\":%f,\"errors\":%lu}\n", ops, secs, ops / secs, pct(ops, 0.5), pct(ops, 0.99), errors);
  return 0;
}
