/*===- progress.c - The live progress line of a training epoch ------------===*/
#include "progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int sora_terminal_columns(void) {
  struct winsize ws;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
    return ws.ws_col;
  return 80;
}

/// "4.2s", "3m07s" or "2h05m".
static void format_duration(char *out, size_t size, double seconds) {
  if (!(seconds >= 0.0))
    seconds = 0.0;
  if (seconds < 59.95) {
    snprintf(out, size, "%.1fs", seconds);
  } else if (seconds < 3599.5) {
    long s = (long)(seconds + 0.5);
    snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
  } else {
    long m = (long)(seconds / 60.0 + 0.5);
    snprintf(out, size, "%ldh%02ldm", m / 60, m % 60);
  }
}

void sora_progress_draw(sora_progress *p, int64_t done, int64_t total,
                        const char *metrics, double now) {
  char elapsed[48], eta[48], head[48], tail[256], line[256];
  double spent = now - p->start;
  format_duration(elapsed, sizeof elapsed, spent);
  format_duration(eta, sizeof eta,
                  spent / (double)done * (double)(total - done));
  int digits = snprintf(NULL, 0, "%" PRId64, total);
  snprintf(head, sizeof head, "%*" PRId64 "/%" PRId64, digits, done, total);
  snprintf(tail, sizeof tail, " %s, ETA %s - %s", elapsed, eta, metrics);

  int max = p->columns - 1;
  if (max > (int)sizeof line - 1)
    max = (int)sizeof line - 1;
  int bar = max - (int)strlen(head) - (int)strlen(tail) - 3;
  if (bar > 30)
    bar = 30;
  int len = snprintf(line, sizeof line, "%s", head);
  if (bar >= 10) {
    int filled = (int)((double)bar * (double)done / (double)total);
    line[len++] = ' ';
    line[len++] = '[';
    for (int i = 0; i < bar; ++i)
      line[len++] = i < filled ? '=' : i == filled ? '>' : '.';
    line[len++] = ']';
    line[len] = '\0';
  }
  len += snprintf(line + len, sizeof line - (size_t)len, "%s", tail);
  if (len > max)
    len = max;
  line[len] = '\0';
  // Spaces cover what a longer previous line left.
  printf("\r%s%*s", line, p->width > len ? p->width - len : 0, "");
  fflush(stdout);
  p->width = len > p->width ? len : p->width;
}

void sora_progress_clear(sora_progress *p) {
  if (p->width > 0)
    printf("\r%*s\r", p->width, "");
  p->width = 0;
}
