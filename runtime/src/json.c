/*===- json.c - The small JSON writer and reader of file headers ----------===*/
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*===--- Writing ----------------------------------------------------------===*/

void sora_json_append(sora_json_buf *b, const char *s, size_t n) {
  if (b->failed)
    return;
  if (n > SIZE_MAX / 2 - b->len) {
    b->failed = true;
    return;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) {
      b->failed = true;
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void sora_json_puts(sora_json_buf *b, const char *s) {
  sora_json_append(b, s, strlen(s));
}

void sora_json_printf(sora_json_buf *b, const char *fmt, ...) {
  char small[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof small) { // only short numbers come here
    b->failed = true;
    return;
  }
  sora_json_append(b, small, (size_t)n);
}

/// Appends `s` as a JSON string, quoted and escaped.
void sora_json_string(sora_json_buf *b, const char *s) {
  sora_json_puts(b, "\"");
  for (const unsigned char *c = (const unsigned char *)s; *c; ++c) {
    if (*c == '"' || *c == '\\') {
      char esc[2] = {'\\', (char)*c};
      sora_json_append(b, esc, 2);
    } else if (*c < 0x20) {
      sora_json_printf(b, "\\u%04x", *c);
    } else {
      sora_json_append(b, (const char *)c, 1);
    }
  }
  sora_json_puts(b, "\"");
}

/*===--- Reading ----------------------------------------------------------===*/

/// Sets a "malformed header" error at the reader's position.
sora_status sora_json_error(const sora_json_reader *r, const char *what) {
  return sora_fail(SORA_ERR_FORMAT,
                   "%s '%s': malformed header at byte %lld: %s", r->what,
                   r->file, (long long)(r->p - r->begin), what);
}

void sora_json_skip_ws(sora_json_reader *r) {
  while (r->p < r->end &&
         (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
    ++r->p;
}

/// Skips whitespace, then expects the character `c`.
sora_status sora_json_expect(sora_json_reader *r, char c) {
  sora_json_skip_ws(r);
  if (r->p >= r->end || *r->p != c) {
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", c);
    return sora_json_error(r, what);
  }
  ++r->p;
  return SORA_OK;
}

/// Skips whitespace; true (and consumes it) if the next character is `c`.
bool sora_json_accept(sora_json_reader *r, char c) {
  sora_json_skip_ws(r);
  if (r->p < r->end && *r->p == c) {
    ++r->p;
    return true;
  }
  return false;
}

int sora_hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Reads the 4 hex digits of a \u escape (after the "\u").
static bool read_hex4(sora_json_reader *r, uint32_t *out) {
  if (r->end - r->p < 4)
    return false;
  uint32_t v = 0;
  for (int k = 0; k < 4; ++k) {
    int h = sora_hex_digit(r->p[k]);
    if (h < 0)
      return false;
    v = v << 4 | (uint32_t)h;
  }
  r->p += 4;
  *out = v;
  return true;
}

/// Appends code point `cp` to the arena as UTF-8 (its encoding is never
/// longer than the escape it came from).
static void put_utf8(sora_json_reader *r, uint32_t cp) {
  char *o = r->arena + r->arena_used;
  if (cp < 0x80) {
    o[0] = (char)cp;
    r->arena_used += 1;
  } else if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    r->arena_used += 2;
  } else if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    r->arena_used += 3;
  } else {
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    r->arena_used += 4;
  }
}

/// Reads a JSON string into the arena. A decoded string, with its NUL, is
/// shorter than its quoted text, so the arena (as large as the header)
/// never overflows.
sora_status sora_json_read_string(sora_json_reader *r, const char **out) {
  sora_status status = sora_json_expect(r, '"');
  if (status != SORA_OK)
    return status;
  const char *start = r->arena + r->arena_used;
  for (;;) {
    if (r->p >= r->end)
      return sora_json_error(r, "unterminated string");
    unsigned char c = (unsigned char)*r->p;
    if (c == '"') {
      ++r->p;
      break;
    }
    if (c < 0x20)
      return sora_json_error(r, "control character in a string");
    if (c != '\\') {
      r->arena[r->arena_used++] = (char)c;
      ++r->p;
      continue;
    }
    if (r->end - r->p < 2)
      return sora_json_error(r, "unterminated string");
    char e = r->p[1];
    r->p += 2;
    static const char escapes[] = "\"\\/bfnrt";
    static const char decoded[] = "\"\\/\b\f\n\r\t";
    const char *simple = e != '\0' ? strchr(escapes, e) : NULL;
    if (simple) {
      r->arena[r->arena_used++] = decoded[simple - escapes];
      continue;
    }
    if (e != 'u') {
      r->p -= 2;
      return sora_json_error(r, "invalid escape in a string");
    }
    uint32_t cp;
    if (!read_hex4(r, &cp))
      return sora_json_error(r, "invalid \\u escape");
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return sora_json_error(r, "unpaired surrogate in a \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low;
      if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
        return sora_json_error(r, "unpaired surrogate in a \\u escape");
      r->p += 2;
      if (!read_hex4(r, &low) || low < 0xDC00 || low > 0xDFFF)
        return sora_json_error(r, "unpaired surrogate in a \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (cp == 0)
      return sora_json_error(r, "\\u0000 in a string");
    put_utf8(r, cp);
  }
  r->arena[r->arena_used++] = '\0';
  *out = start;
  return SORA_OK;
}

/// Reads a non-negative JSON integer (no sign, fraction or exponent) of at
/// most SORA_JSON_MAX_INTEGER.
sora_status sora_json_read_integer(sora_json_reader *r, int64_t *out) {
  sora_json_skip_ws(r);
  const char *start = r->p;
  int64_t v = 0;
  while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
    v = v * 10 + (*r->p - '0');
    ++r->p;
    if (v > SORA_JSON_MAX_INTEGER) {
      r->p = start;
      return sora_json_error(r, "integer too large");
    }
  }
  if (r->p == start)
    return sora_json_error(r, "expected a non-negative integer");
  if (*start == '0' && r->p - start > 1) {
    r->p = start;
    return sora_json_error(r, "integer with a leading zero");
  }
  if (r->p < r->end &&
      (*r->p == '.' || *r->p == 'e' || *r->p == 'E' || *r->p == '-'))
    return sora_json_error(r, "expected a whole number");
  *out = v;
  return SORA_OK;
}

/// Reads an array of at most `max` integers; `*count` receives how many.
sora_status sora_json_read_int_array(sora_json_reader *r, int64_t *values,
                                     int64_t max, int64_t *count) {
  sora_status status = sora_json_expect(r, '[');
  if (status != SORA_OK)
    return status;
  *count = 0;
  if (sora_json_accept(r, ']'))
    return SORA_OK;
  do {
    if (*count == max)
      return sora_json_error(r, "too many elements in an array");
    status = sora_json_read_integer(r, &values[(*count)++]);
    if (status != SORA_OK)
      return status;
  } while (sora_json_accept(r, ','));
  return sora_json_expect(r, ']');
}
