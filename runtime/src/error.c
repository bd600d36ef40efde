/*===- error.c - The thread-local last error message ----------------------===*/
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef SORA_NO_OS
/* Bare metal (SORA_NO_OS): one thread, and no thread-local storage to ask
   of an operating system. */
static char last_error[1024] = "no error";
static char last_note[512];
#else
static _Thread_local char last_error[1024] = "no error";
static _Thread_local char last_note[512];
#endif

/// Formats into a local buffer first: the arguments may point into
/// `last_error` itself (e.g. to prefix context to an earlier message).
static void set_error_v(const char *fmt, va_list ap) {
  char buf[sizeof last_error];
  vsnprintf(buf, sizeof buf, fmt, ap);
  memcpy(last_error, buf, sizeof buf);
}

const char *sora_last_error(void) { return last_error; }

const char *sora_last_note(void) { return last_note; }

void sora_set_note(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_note, sizeof last_note, fmt, ap);
  va_end(ap);
}

void sora_set_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_error_v(fmt, ap);
  va_end(ap);
}

sora_status sora_fail(sora_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_error_v(fmt, ap);
  va_end(ap);
  return status;
}
